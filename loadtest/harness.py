"""Runs the modes a command line asked for, Wirepost first and then each peer, and reports.

A phase that fails is recorded with its error and the run goes on; a phase that would start
after --max-total-seconds is skipped. Exit status: 0 when the run completed (even with failed
or skipped phases: this is a measurement, not a test), 1 with --strict when a Wirepost phase
failed, lost messages or sent bad signatures, 2 when it could not start at all.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import aiohttp

from loadtest import postgres, report
from loadtest.machine import describe_machine
from loadtest.modes.drain import peer_drain, wirepost_drain
from loadtest.modes.fanout import wirepost_fanout
from loadtest.modes.ramp import ramp
from loadtest.modes.steady import peer_steady, wirepost_steady
from loadtest.peer_process import PEERS, PeerSpec
from loadtest.phase import RunContext
from loadtest.plot import plot_run
from loadtest.process_meter import wait_for_quiet_machine
from loadtest.publishers import api_client
from loadtest.wirepost_server import WirepostLauncher, describe_target, wirepost_command

PhaseCall = Callable[[], Awaitable[dict[str, Any]]]


class Benchmark:
    def __init__(self, args: argparse.Namespace, ctx: RunContext, launcher: WirepostLauncher):
        self.args = args
        self.ctx = ctx
        self.launcher = launcher
        self.deadline = time.monotonic() + args.max_total_seconds
        self.groups: dict[str, list[dict[str, Any]]] = {}
        self.notes: list[str] = []
        self.peers = self._available_peers()
        self.wirepost_missing = None
        if launcher.target is None and wirepost_command() is None:
            self.wirepost_missing = "the `wirepost` command is not installed (pip install -e .)"
            self.notes.append(f"Wirepost skipped: {self.wirepost_missing}")

    def _available_peers(self) -> list[PeerSpec]:
        if self.args.peers in ("", "none"):
            return []
        if self.ctx.postgres is None:
            self.notes.append("peers skipped: with --target they need --database-url")
            return []
        available = []
        for key in self.args.peers.split(","):
            spec = PEERS.get(key.strip())
            if spec is None:
                self.notes.append(f"unknown peer {key!r} ignored (known: {', '.join(PEERS)})")
            elif (why := spec.missing()) is not None:
                self.notes.append(f"{spec.name} skipped: {why}")
            else:
                available.append(spec)
        return available

    async def phase(self, group: str, queue: str, mode: str, call: PhaseCall) -> dict[str, Any]:
        """Run one phase within the run's time bound; its result, or its failure as a result."""
        if time.monotonic() > self.deadline:
            result = {"queue": queue, "mode": mode, "skipped": "the run's time bound was reached"}
        else:
            quiet_note = await self._wait_for_quiet_machine()
            print(f"· {group}: {queue} …", file=sys.stderr, flush=True)
            started = time.monotonic()
            try:
                result = await call()
            except Exception as error:  # one broken phase must not lose the others
                message = f"{type(error).__name__}: {error}"
                result = {"queue": queue, "mode": mode, "error": message}
                result["skipped"] = one_line(message)
            result["phase_seconds"] = round(time.monotonic() - started, 1)
            if quiet_note:
                result.setdefault("notes", []).append(quiet_note)
        return result

    async def _wait_for_quiet_machine(self) -> str | None:
        if self.args.wait_idle <= 0:
            return None
        busy = await wait_for_quiet_machine(within=self.args.wait_idle)
        if busy is None:
            return f"the machine was still busy after waiting {self.args.wait_idle:g} s"
        return None

    async def for_each_queue(
        self,
        group: str,
        mode: str,
        ours: Callable[[], Awaitable[dict[str, Any]]] | None,
        theirs: Callable[[PeerSpec], Awaitable[dict[str, Any]]] | None,
    ) -> None:
        """Each queue in turn, `--repeat` rounds, keeping each queue's best round.

        Rounds interleave the queues, so that a burst of load from elsewhere on the machine
        falls on all of them alike rather than on one.
        """
        calls: list[tuple[str, PhaseCall]] = []
        if ours is not None and self.wirepost_missing is None:
            calls.append(("wirepost", ours))
        if theirs is not None:
            calls += [(spec.name, lambda spec=spec: theirs(spec)) for spec in self.peers]
        rounds: dict[str, list[dict[str, Any]]] = {queue: [] for queue, _ in calls}
        for _ in range(self.args.repeat):
            for queue, call in calls:
                rounds[queue].append(await self.phase(group, queue, mode, call))
        for results in rounds.values():
            self.groups.setdefault(group, []).append(best_round(results))

    async def drain(self) -> None:
        n = self.args.n
        await self.for_each_queue(
            "drain",
            "drain",
            lambda: wirepost_drain(self.ctx, self.launcher, n),
            lambda spec: peer_drain(self.ctx, spec, n),
        )

    async def steady(self) -> None:
        rate, duration = self.args.rate, self.args.duration
        await self.for_each_queue(
            "steady",
            "steady",
            lambda: wirepost_steady(self.ctx, self.launcher, rate, duration),
            None if self.args.quick else lambda spec: peer_steady(self.ctx, spec, rate, duration),
        )

    async def ramp(self) -> None:
        def ramp_of(step: Callable[[float, float], Awaitable[dict[str, Any]]], queue: str):
            async def run() -> dict[str, Any]:
                outcome = await ramp(
                    step,
                    start_rate=self.args.ramp_start,
                    factor=self.args.ramp_factor,
                    step_seconds=self.args.ramp_step_seconds,
                    max_rate=self.args.ramp_max_rate,
                    max_steps=self.args.ramp_max_steps,
                )
                return {"queue": queue, "mode": "ramp", **outcome}

            return run

        def wirepost_step(rate: float, seconds: float) -> Awaitable[dict[str, Any]]:
            return wirepost_steady(self.ctx, self.launcher, rate, seconds, mode="ramp")

        def peer_ramp(spec: PeerSpec) -> Awaitable[dict[str, Any]]:
            def step(rate: float, seconds: float) -> Awaitable[dict[str, Any]]:
                return peer_steady(self.ctx, spec, rate, seconds, mode="ramp")

            return ramp_of(step, spec.name)()

        await self.for_each_queue(
            "ramp",
            "ramp",
            ramp_of(wirepost_step, "wirepost"),
            None if self.args.quick else peer_ramp,
        )

    async def backlog(self) -> None:
        measure = self.args.backlog_measure
        for size in (int(s) for s in self.args.backlog_sizes.split(",")):
            await self.for_each_queue(
                f"backlog {size:,}",
                "backlog",
                lambda size=size: wirepost_drain(
                    self.ctx, self.launcher, size, mode="backlog", measure=measure
                ),
                None
                if self.args.quick
                else lambda spec, size=size: peer_drain(
                    self.ctx, spec, size, mode="backlog", measure=measure
                ),
            )

    async def fanout(self) -> None:
        await self.for_each_queue(
            "fanout",
            "fanout",
            lambda: wirepost_fanout(self.ctx, self.launcher, self.args.n, self.args.fanout),
            None,
        )


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    started_at = datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%SZ")
    log_dir = args.out / f"{started_at}-logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    server = await _postgres(args)
    try:
        connector = aiohttp.TCPConnector(limit=1024, limit_per_host=1024)
        api = api_client()
        try:
            async with aiohttp.ClientSession(connector=connector) as session:
                ctx = RunContext(
                    server,
                    session,
                    api,
                    log_dir,
                    args.phase_seconds,
                    args.peer_workers,
                    pause_postgres=args.pause_postgres,
                )
                target = await describe_target(args.target, args.token) if args.target else None
                launcher = WirepostLauncher(
                    log_dir=log_dir, target=target, target_pid=args.target_pid, extra_env=_env(args)
                )
                bench = Benchmark(args, ctx, launcher)
                for mode in args.modes.split(","):
                    await getattr(bench, mode)()
        finally:
            await api.close()
        run = {
            "started_at": started_at,
            "command": args.command,
            "machine": {**await describe_machine(server), "wirepost": await launcher.describe()},
            "notes": [*(server.notes if server else []), *bench.notes],
            "groups": bench.groups,
            "ratios": report.add_ratios(bench.groups),
            "round_ratios": report.add_round_ratios(bench.groups),
            "logs": str(log_dir),
        }
    finally:
        if server is not None:
            server.close()
    return run


async def _postgres(args: argparse.Namespace) -> postgres.PostgresServer | None:
    if args.database_url:
        server = postgres.PostgresServer(url=args.database_url, postmaster_pid=None)
    elif args.target:
        return None  # the target has its own database; no SQL counters without --database-url
    else:
        server = await asyncio.to_thread(postgres.start_embedded, args.postgres_setting)
    await postgres.describe(server)
    return server


def best_round(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The best round (steady: lowest publish->receive p99; else the highest rate); every
    round's headline figures are kept beside it."""

    def score(result: dict[str, Any]) -> float:
        if "error" in result:
            return float("-inf")
        if result.get("mode") == "steady":
            return -float((result.get("latency_ms") or {}).get("p99") or float("inf"))
        return float(result.get("delivery_rate") or result.get("highest_sustained_rate") or 0)

    best = dict(max(results, key=score))
    if len(results) > 1:
        best["rounds"] = [
            {
                "delivery_rate": r.get("delivery_rate"),
                "middle_rate": r.get("middle_rate"),
                "latency_p99_ms": (r.get("latency_ms") or {}).get("p99"),
                "other_cpu_pct": ((r.get("cpu") or {}).get("other") or {}).get("core_pct"),
                "error": r.get("skipped"),
            }
            for r in results
        ]
    return best


def one_line(message: str, limit: int = 240) -> str:
    """First line and last line of a long error (a log tail), for a table note."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    text = lines[0] if len(lines) < 2 else f"{lines[0]} … {lines[-1]}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _env(args: argparse.Namespace) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in args.wirepost_env)
    return {name: value for name, value in pairs}


def run_benchmark(args: argparse.Namespace) -> int:
    if platform.system() != "Linux":
        print("loadtest reads /proc for CPU and memory: it runs on Linux only", file=sys.stderr)
        return 2
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        run = asyncio.run(_run(args))
    except (RuntimeError, OSError) as error:
        print(f"loadtest could not run: {error}", file=sys.stderr)
        return 2
    stem = run["started_at"] + ("-quick" if args.quick else "")
    json_path, md_path = report.write_report(run, args.out, stem)
    png = plot_run(run, args.out / f"{stem}.png")
    print(md_path.read_text())
    print(f"results: {json_path}  {md_path}" + (f"  {png}" if png else ""))
    problems = report.wirepost_problems(run)
    for problem in problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if args.strict and problems else 0
