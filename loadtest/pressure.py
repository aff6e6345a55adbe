"""How much of a phase the machine's tasks spent waiting: Linux pressure stall information
(`/proc/pressure/cpu` and `io`), over the phase and second by second.

A queue that stalls while CPU pressure is high was waiting for a core that other processes held;
one that stalls with IO "full" pressure was waiting for the disk (a commit's WAL flush). Without
these figures a stall caused by the machine reads like one caused by the queue. `cpu some` is
the share of time at least one runnable task waited for a CPU; `io full` the share in which
every non-idle task waited for IO at once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

PRESSURE_DIR = Path("/proc/pressure")
FIGURES = ("cpu_some", "io_some", "io_full")


def parse(resource: str, text: str) -> dict[str, int]:
    """Microseconds stalled since boot, by kind: `cpu some avg10=… total=123` → cpu_some: 123."""
    totals: dict[str, int] = {}
    for line in text.splitlines():
        kind, *fields = line.split()
        for field in fields:
            if field.startswith("total="):
                totals[f"{resource}_{kind}"] = int(field.removeprefix("total="))
    return totals


def read_totals(directory: Path = PRESSURE_DIR) -> dict[str, int] | None:
    """The stall totals now; None where the kernel offers no pressure information."""
    totals: dict[str, int] = {}
    for resource in ("cpu", "io"):
        try:
            totals.update(parse(resource, (directory / resource).read_text()))
        except OSError:
            return None
    return totals if all(figure in totals for figure in FIGURES) else None


def shares(before: dict[str, int], after: dict[str, int], seconds: float) -> dict[str, float]:
    """Each figure's stalled time between two readings as a percentage of `seconds`."""
    if seconds <= 0:
        return {f"{figure}_pct": 0.0 for figure in FIGURES}
    return {
        f"{figure}_pct": round(100 * (after[figure] - before[figure]) / 1e6 / seconds, 1)
        for figure in FIGURES
    }


class PressureSampler:
    """Reads the totals once a second while a phase is measured; `stop()` sums it all up."""

    def __init__(self, every: float = 1.0, directory: Path = PRESSURE_DIR) -> None:
        self._every = every
        self._directory = directory
        self._first: dict[str, int] | None = None
        self._started = 0.0
        self._timeline: list[dict[str, float]] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._first = read_totals(self._directory)
        self._started = time.monotonic()
        if self._first is not None:
            self._task = asyncio.get_running_loop().create_task(self._sample(self._first))

    async def _sample(self, previous: dict[str, int]) -> None:
        at = self._started
        while True:
            await asyncio.sleep(self._every)
            now, totals = time.monotonic(), read_totals(self._directory)
            if totals is None:
                return
            second = round(at - self._started, 1)
            self._timeline.append({"second": second, **shares(previous, totals, now - at)})
            previous, at = totals, now

    def stop(self) -> dict[str, Any] | None:
        """The phase's shares, the worst second's, and the per-second timeline (None without
        pressure information)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None
        last = read_totals(self._directory)
        if self._first is None or last is None:
            return None
        summary: dict[str, Any] = shares(self._first, last, time.monotonic() - self._started)
        for figure in FIGURES:
            worst = max((entry[f"{figure}_pct"] for entry in self._timeline), default=None)
            summary[f"worst_second_{figure}_pct"] = worst
        summary["timeline"] = self._timeline
        return summary
