"""CPU time and memory of the processes in a run, read from /proc (Linux only).

A role (server, postgres, sink, ...) is a root pid and its descendants. A role's CPU time is
utime+stime+cutime+cstime of the root and of every live descendant: a child that exits is reaped
by its parent, whose cutime then carries its time, so the sum never loses an exited Postgres
backend. The load generator is this process alone (its cutime would count the sink and peers).
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOAD_GENERATOR = "load generator"
MACHINE = "machine"  # every core's busy time, whoever used it
OTHER = "other"  # machine minus the measured roles: work this run did not start


@dataclass(frozen=True)
class _ProcStat:
    ppid: int
    cpu_ticks: int  # utime + stime + cutime + cstime


def _read_proc_table() -> dict[int, _ProcStat]:
    table: dict[int, _ProcStat] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = raw.rsplit(")", 1)[1].split()
        # fields[0] is the state; ppid is fields[1]; utime..cstime are fields[11..14].
        table[int(entry.name)] = _ProcStat(
            ppid=int(fields[1]), cpu_ticks=sum(int(value) for value in fields[11:15])
        )
    return table


def _tree(root: int, table: dict[int, _ProcStat]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.ppid, []).append(pid)
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            found.append(pid)
            stack.extend(children.get(pid, []))
    return found


def process_tree(root: int) -> list[int]:
    """`root` and its live descendants."""
    return _tree(root, _read_proc_table())


def _machine_busy_seconds() -> float:
    """Busy time of all cores (user, nice, system, irq, softirq, steal) from /proc/stat."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


async def wait_for_quiet_machine(
    *, within: float, busy_below_pct: float = 25.0, every: float = 1.0
) -> float | None:
    """Wait until all cores together were busy less than `busy_below_pct` % of one core over
    `every` seconds (other sessions' builds and tests); the busy % seen last, or None if the
    machine never went quiet within `within` seconds."""
    deadline = time.monotonic() + within
    busy_pct = 0.0
    while True:
        before = _machine_busy_seconds()
        await asyncio.sleep(every)
        busy_pct = 100 * (_machine_busy_seconds() - before) / every
        if busy_pct < busy_below_pct:
            return busy_pct
        if time.monotonic() >= deadline:
            return None


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class CpuSnapshot:
    at: float
    seconds: dict[str, float]


@dataclass
class ProcessMeter:
    """Measures named process trees; `roles` maps a role name to its root pid."""

    roles: dict[str, int] = field(default_factory=dict)

    def snapshot(self) -> CpuSnapshot:
        table = _read_proc_table()
        seconds = {
            role: sum(table[pid].cpu_ticks for pid in _tree(root, table)) / CLOCK_TICKS
            for role, root in self.roles.items()
        }
        own = os.times()
        seconds[LOAD_GENERATOR] = own.user + own.system
        seconds[MACHINE] = _machine_busy_seconds()
        return CpuSnapshot(at=time.monotonic(), seconds=seconds)

    def rss_mib(self, role: str) -> float:
        """Resident memory of a role's whole process tree, in MiB."""
        root = self.roles.get(role)
        if root is None:
            return 0.0
        return sum(_rss_kib(pid) for pid in _tree(root, _read_proc_table())) / 1024


def cpu_between(start: CpuSnapshot, end: CpuSnapshot) -> dict[str, dict[str, float]]:
    """CPU seconds per role between two snapshots, and as a share of one core (100 = one core)."""
    wall = max(end.at - start.at, 1e-9)
    used = {
        role: seconds - start.seconds.get(role, seconds) for role, seconds in end.seconds.items()
    }
    if MACHINE in used:
        measured = sum(value for role, value in used.items() if role != MACHINE)
        used[OTHER] = max(0.0, used[MACHINE] - measured)
    return {
        role: {"cpu_s": round(value, 3), "core_pct": round(100 * value / wall, 1)}
        for role, value in used.items()
    }


def measured_cpu_seconds(usage: dict[str, dict[str, float]]) -> float:
    """CPU seconds of the run's own processes (not the machine total, not the others)."""
    return sum(role["cpu_s"] for name, role in usage.items() if name not in (MACHINE, OTHER))
