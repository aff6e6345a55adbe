"""One measured phase: a queue, its own sink and fresh database, and the bookkeeping around them.

`measured_phase(...)` starts the sink, creates the database, and on exit stops every process the
phase started, reads the SQL counters (after the stop, so that backends have flushed them), drops
the database and stops the sink. Between `cpu_begin()` and `cpu_end()` it meters CPU per process
and the machine's pressure (time tasks waited for a CPU or for IO).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from loadtest import postgres, subprocesses
from loadtest.pressure import PressureSampler
from loadtest.process_meter import CpuSnapshot, ProcessMeter, cpu_between, measured_cpu_seconds
from loadtest.sink_client import Sink, start_sink
from wirepost.delivery.http import DeliveryClient


@dataclass
class RunContext:
    """What every phase of a run shares."""

    postgres: postgres.PostgresServer | None  # None: a --target run without --database-url
    session: aiohttp.ClientSession  # the harness's own requests (sink stats, server probes)
    api: DeliveryClient  # publishers' requests to Wirepost's API (see loadtest.publishers)
    log_dir: Path
    phase_seconds: float  # upper bound on any one wait inside a phase
    peer_workers: int = 1  # processes each Node peer works in during drain and backlog
    pause_postgres: tuple[float, float] | None = None  # steady: (seconds, every) SIGSTOPs


@dataclass
class Phase:
    queue: str
    mode: str
    sink: Sink
    database_url: str | None
    database_name: str
    meter: ProcessMeter
    result: dict[str, Any] = field(default_factory=dict)
    processes: list[asyncio.subprocess.Process] = field(default_factory=list)
    _cpu_start: CpuSnapshot | None = None
    _pressure: PressureSampler | None = None
    _sql_start: dict[str, Any] | None = None
    _sql_delivery_start: dict[str, Any] | None = None
    rss_samples: list[tuple[float, float]] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.result.setdefault("notes", []).append(text)

    def track(self, role: str, process: asyncio.subprocess.Process) -> None:
        """Meter `process` (and its children) as `role`; stop it when the phase ends."""
        self.meter.roles[role] = process.pid
        self.processes.append(process)

    def cpu_begin(self) -> None:
        self._cpu_start = self.meter.snapshot()
        self._pressure = PressureSampler()
        self._pressure.start()

    def cpu_end(self, messages: int) -> None:
        if self._cpu_start is None:
            return
        if self._pressure is not None:
            self.result["pressure"] = self._pressure.stop()
            self._pressure = None
        usage = cpu_between(self._cpu_start, self.meter.snapshot())
        total = measured_cpu_seconds(usage)
        self.result["cpu"] = usage
        self.result["cpu_ms_per_message"] = round(1000 * total / messages, 4) if messages else None
        self._cpu_start = None


@contextlib.asynccontextmanager
async def measured_phase(
    ctx: RunContext,
    *,
    queue: str,
    mode: str,
    database_name: str,
    verify_keys: tuple[str, str] | None,
    fresh_database: bool = True,
) -> AsyncIterator[Phase]:
    """A phase on a fresh database `database_name`, or with `fresh_database=False` (a --target
    server) on the database of --database-url as it is, its counters read as deltas."""
    log_path = ctx.log_dir / f"{database_name}.sink.log"
    sink = await start_sink(verify_keys=verify_keys, log_path=log_path, session=ctx.session)
    meter = ProcessMeter(roles={"sink": sink.process.pid})
    if ctx.postgres is not None and ctx.postgres.postmaster_pid:
        meter.roles["postgres"] = ctx.postgres.postmaster_pid
    try:
        async with _database(ctx, database_name, fresh_database) as (database_url, name):
            phase = Phase(queue, mode, sink, database_url, name, meter)
            phase.result.update({"queue": queue, "mode": mode})
            try:
                yield phase
            finally:
                if phase._pressure is not None:  # the phase failed before cpu_end()
                    phase._pressure.stop()
                for process in reversed(phase.processes):
                    await subprocesses.stop(process)
                if ctx.postgres is not None and database_url is not None:
                    await _record_sql(ctx.postgres, phase)
    finally:
        await subprocesses.stop(sink.process)


@contextlib.asynccontextmanager
async def _database(
    ctx: RunContext, name: str, fresh: bool
) -> AsyncIterator[tuple[str | None, str]]:
    if ctx.postgres is None:
        yield None, name
    elif not fresh:
        yield ctx.postgres.url, postgres.database_name(ctx.postgres.url)
    else:
        async with postgres.fresh_database(ctx.postgres, name) as url:
            yield url, name


async def sql_begin(ctx: RunContext, phase: Phase) -> None:
    """Counters at the start of the measured work (after migrations and setup)."""
    if ctx.postgres is not None and phase.database_url is not None:
        phase._sql_start = await postgres.read_counters(ctx.postgres, phase.database_name)


async def sql_delivery_begins(ctx: RunContext, phase: Phase) -> None:
    """Counters when deliveries start: the claim query's figures count from here, so that a
    queue polling while its backlog is published (Wirepost: once a second, finding nothing) is
    not charged for those empty claims. They come from
    pg_stat_statements, which counts a statement when it ends; pg_stat_database's commits may
    be flushed seconds late, so the other counts keep the window of `sql_begin`."""
    if ctx.postgres is not None and phase.database_url is not None:
        phase._sql_delivery_start = await postgres.read_counters(ctx.postgres, phase.database_name)


async def _record_sql(server: postgres.PostgresServer, phase: Phase) -> None:
    await asyncio.sleep(0.2)  # let exiting backends flush their statistics
    end = await postgres.read_counters(server, phase.database_name)
    start = phase._sql_start or {}
    counts: dict[str, int] = {
        key: end[key] - start.get(key, 0)
        for key in ("xact_commit", "tup_inserted", "tup_updated", "tup_deleted")
        if key in end
    }
    lists: dict[str, Any] = {}
    if "statements" in end:
        ran = postgres.statements_between(start.get("statements", {}), end["statements"])
        counts["statements"] = sum(s["calls"] for s in ran)
        lists = postgres.statement_lists(ran)
        delivering = (phase._sql_delivery_start or start).get("statements", {})
        claim = postgres.claim_query(postgres.statements_between(delivering, end["statements"]))
        if claim is not None:
            lists["claim_query"] = claim
    messages = phase.result.get("messages") or 0
    sql: dict[str, Any] = {}
    for key, delta in counts.items():
        sql[key] = delta
        if messages:
            sql[f"{key}_per_message"] = round(delta / messages, 3)
    phase.result["sql"] = {**sql, **lists}


async def sample_rss(phase: Phase, role: str, stop: asyncio.Event, every: float = 1.0) -> None:
    """Record the resident memory of `role` every `every` seconds until `stop` is set."""
    if role not in phase.meter.roles:  # a --target server without --target-pid
        return
    start = time.monotonic()
    while not stop.is_set():
        phase.rss_samples.append((round(time.monotonic() - start, 1), phase.meter.rss_mib(role)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)
