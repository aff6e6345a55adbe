"""Steady: publish one message per request at a fixed rate for a fixed time, deliveries running.

Reports publish latency (from each message's due time, open loop), publish->receive latency,
the backlog when publishing stops (published minus delivered), and how long it took to clear.
Peers do the same through their own single-job API (`send`, `addJob`, `enqueue`), in-process.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from loadtest import postgres
from loadtest.modes.drain import delivery_figures
from loadtest.peer_process import PeerProcess, PeerSpec
from loadtest.phase import Phase, RunContext, measured_phase, sample_rss, sql_begin
from loadtest.publishers import Publisher, message_body, publish_at_rate
from loadtest.wirepost_server import WirepostLauncher


async def wirepost_steady(
    ctx: RunContext,
    launcher: WirepostLauncher,
    rate: float,
    duration: float,
    *,
    mode: str = "steady",
) -> dict[str, Any]:
    name = f"wp_{mode}_{int(rate)}"
    async with measured_phase(
        ctx,
        queue="wirepost",
        mode=mode,
        database_name=name,
        verify_keys=launcher.keys,
        fresh_database=launcher.target is None,
    ) as phase:
        server = await launcher.start(phase)
        publisher = Publisher(ctx.api, server.base_url, server.token)
        destination = phase.sink.url("/in/wirepost")
        await sql_begin(ctx, phase)

        async def publish_one(seq: int) -> object:
            return await publisher.publish(destination, message_body(seq))

        async def publish() -> dict[str, Any]:
            result = await publish_at_rate(publish_one, rate=rate, duration=duration)
            return result.as_json()

        return await _run_steady(ctx, phase, publish, rate, duration)


async def peer_steady(
    ctx: RunContext, spec: PeerSpec, rate: float, duration: float, *, mode: str = "steady"
) -> dict[str, Any]:
    name = f"{spec.key}_{mode}_{int(rate)}"
    async with measured_phase(
        ctx, queue=spec.name, mode=mode, database_name=name, verify_keys=None
    ) as phase:
        assert phase.database_url is not None
        options = {"mode": "steady", "rate": rate, "duration": duration}
        peer = await PeerProcess.start(
            spec,
            database_url=phase.database_url,
            sink_url=phase.sink.url(f"/in/{spec.key}"),
            options={**options, "timeout": ctx.phase_seconds + duration},
            log_path=ctx.log_dir / f"{name}.peer.log",
        )
        phase.track("server", peer.process)
        await peer.wait_event("ready", within=60)
        await sql_begin(ctx, phase)

        async def publish() -> dict[str, Any]:
            event = await peer.wait_event("published", within=duration + ctx.phase_seconds)
            event["rate"] = round(event["published"] / event["seconds"], 1)
            event["method"] = "peer API, one job per call"
            return event

        result = await _run_steady(ctx, phase, publish, rate, duration)
        await peer.finish()
        return result


async def _run_steady(
    ctx: RunContext,
    phase: Phase,
    publish: Callable[[], Awaitable[dict[str, Any]]],
    rate: float,
    duration: float,
) -> dict[str, Any]:
    """Meter CPU and memory while `publish()` runs, then give the queue time to catch up."""
    phase.result.update({"target_rate": rate, "duration_s": duration})
    phase.cpu_begin()
    stop = asyncio.Event()
    rss = asyncio.create_task(sample_rss(phase, "server", stop))
    published_all = asyncio.Event()
    pauses = _pause_postgres(ctx, phase, published_all)
    try:
        ingest = await publish()
        published_all.set()
        if pauses is not None:
            phase.result["postgres_paused_at_s"] = await pauses
        published = int(ingest["published"])
        at_end = await phase.sink.stats()
        backlog_at_end = published - at_end["unique"]
        cleared_from = time.monotonic()
        counts = await phase.sink.wait_for(published, within=min(ctx.phase_seconds, duration + 10))
        phase.cpu_end(counts["unique"])
    finally:
        stop.set()
        published_all.set()
        await rss
        if pauses is not None:
            await asyncio.gather(pauses, return_exceptions=True)  # Postgres runs again
    bucket_ms = 1000 if duration >= 20 else 250
    stats = await phase.sink.stats(latency=True, timeline=True, bucket_ms=bucket_ms)
    phase.result.update(delivery_figures(stats, phase))
    if ingest.get("failures"):
        first = (ingest.get("errors") or ["(no message)"])[0]
        phase.note(f"{ingest['failures']} publishes failed; the first: {first}")
    phase.result["ingest"] = ingest
    phase.result["publish_latency_ms"] = ingest.get("publish_latency_ms")
    phase.result["backlog_at_end"] = backlog_at_end
    phase.result["backlog_cleared_s"] = (
        round(time.monotonic() - cleared_from, 2) if counts["unique"] >= published else None
    )
    phase.result["backlog_after_grace"] = published - counts["unique"]
    return phase.result


def _pause_postgres(
    ctx: RunContext, phase: Phase, until: asyncio.Event
) -> asyncio.Task[list[float]] | None:
    """With --pause-postgres, a task pausing the run's Postgres while a steady phase publishes."""
    if ctx.pause_postgres is None or ctx.postgres is None or phase.mode != "steady":
        return None
    seconds, every = ctx.pause_postgres
    phase.note(f"Postgres was paused (SIGSTOP) for {seconds:g} s every {every:g} s of publishing")
    return asyncio.create_task(
        postgres.pause_every(ctx.postgres, seconds=seconds, every=every, until=until)
    )
