"""Drain and backlog: put N messages in first, then measure how fast the queue delivers them.

Wirepost: N messages are published through /v2/batch (one by one when it answers 404), all with
the same `Upstash-Not-Before`, so that nothing is due until the backlog is complete. Peers enqueue
through their own API in chunks of 1,000 and start their worker afterwards. Either way the rate
is counted at the sink, from the first delivery (or the end of publishing, if deliveries began
before it) to the last, over the first `measure` deliveries. Backlog mode is the same with
`measure` < N, so a 1M backlog is measured on its first deliveries, not drained to the end. In
both, the claim query's figures count from the first delivery (see `sql_delivery_begins`).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from typing import Any

from loadtest.peer_process import PeerProcess, PeerSpec
from loadtest.phase import (
    Phase,
    RunContext,
    measured_phase,
    sample_rss,
    sql_begin,
    sql_delivery_begins,
)
from loadtest.publishers import Publisher, publish_backlog
from loadtest.wirepost_server import WirepostLauncher

PROBE_MESSAGES = 1000  # published first, to learn how long publishing the backlog will take


async def wirepost_drain(
    ctx: RunContext, launcher: WirepostLauncher, n: int, *, mode: str = "drain", measure: int = 0
) -> dict[str, Any]:
    measure = min(measure or n, n)
    async with measured_phase(
        ctx,
        queue="wirepost",
        mode=mode,
        database_name=f"wp_{mode}_{n}",
        verify_keys=launcher.keys,
        fresh_database=launcher.target is None,
    ) as phase:
        server = await launcher.start(phase)
        publisher = Publisher(ctx.api, server.base_url, server.token)
        not_before, phase.result["probe"] = await hold_time(ctx, phase, publisher, n)
        await sql_begin(ctx, phase)
        published = await publish_backlog(
            publisher,
            phase.sink.url("/in/wirepost"),
            n,
            headers={"Upstash-Not-Before": str(not_before)},
            deadline=time.monotonic() + ctx.phase_seconds,
        )
        published_ns = time.time_ns()
        phase.result["ingest"] = published.as_json()
        if published.failures or published.published < n:
            first = (published.errors or ["(none)"])[0]
            phase.note(f"published {published.published} of {n}; the first error: {first}")
        early = (await phase.sink.stats())["received"]
        if early:
            phase.note(
                f"{early} deliveries arrived before publishing ended (it overran"
                " Upstash-Not-Before, or the server ignores it): the rate counts from its end"
            )
        await asyncio.sleep(max(0.0, not_before - time.time()))
        await measure_delivery(ctx, phase, min(measure, published.published), published_ns)
        return phase.result


async def hold_time(
    ctx: RunContext, phase: Phase, publisher: Publisher, n: int
) -> tuple[int, dict[str, Any]]:
    """The `Upstash-Not-Before` (unix s) that holds deliveries until all `n` are published.

    Publishes PROBE_MESSAGES (delivered at once, to another sink path, then forgotten) to learn
    the ingest rate, and allows 0.5 s plus the time `n` take at 80 % of that rate.
    """
    probe = await publish_backlog(
        publisher,
        phase.sink.url("/in/probe"),
        min(PROBE_MESSAGES, max(200, n // 5)),
        headers={},
        deadline=time.monotonic() + ctx.phase_seconds,
    )
    await phase.sink.wait_for(probe.published, within=min(ctx.phase_seconds, 60))
    await phase.sink.reset()
    rate = max(probe.published / max(probe.seconds, 1e-3), 50.0)
    return math.ceil(time.time() + 0.5 + n / (0.8 * rate)), probe.as_json()


async def peer_drain(
    ctx: RunContext, spec: PeerSpec, n: int, *, mode: str = "drain", measure: int = 0
) -> dict[str, Any]:
    measure = min(measure or n, n)
    options: dict[str, Any] = {
        "mode": "drain",
        "n": n,
        "measure": measure,
        "timeout": ctx.phase_seconds,
    }
    async with measured_phase(
        ctx, queue=spec.name, mode=mode, database_name=f"{spec.key}_{mode}_{n}", verify_keys=None
    ) as phase:
        assert phase.database_url is not None
        if ctx.peer_workers > 1:
            if spec.forks_workers:
                options["workers"] = ctx.peer_workers
            else:
                phase.note(f"{spec.name} works in one process (no --peer-workers support)")
        peer = await PeerProcess.start(
            spec,
            database_url=phase.database_url,
            sink_url=phase.sink.url(f"/in/{spec.key}"),
            options=options,
            log_path=ctx.log_dir / f"{spec.key}_{mode}_{n}.peer.log",
        )
        phase.track("server", peer.process)
        await peer.wait_event("ready", within=60)
        await sql_begin(ctx, phase)
        enqueued = await peer.wait_event("enqueued", within=ctx.phase_seconds)
        phase.result["ingest"] = {
            "method": "peer API, chunks of 1,000",
            "published": enqueued["n"],
            "rate": round(enqueued["rate"], 1),
            "seconds": round(enqueued["seconds"], 3),
        }
        await measure_delivery(ctx, phase, measure, 0)
        with contextlib.suppress(RuntimeError, TimeoutError):
            drained = await peer.wait_event("drained", within=10)
            phase.result["peer_reported_rate"] = round(drained["rate"], 1)
        await peer.finish()
        return phase.result


async def measure_delivery(ctx: RunContext, phase: Phase, measure: int, since_ns: int) -> None:
    """Meter CPU and memory until `measure` deliveries reached the sink (or the phase bound)."""
    await sql_delivery_begins(ctx, phase)
    phase.cpu_begin()
    stop = asyncio.Event()
    rss = asyncio.create_task(sample_rss(phase, "server", stop))
    try:
        counts = await phase.sink.wait_for(measure, within=ctx.phase_seconds)
        phase.cpu_end(counts["unique"])
    finally:
        stop.set()
        await rss
    span_ms = (counts["last_receive_ns"] - counts["first_receive_ns"]) / 1e6
    bucket_ms = max(100, int(span_ms / 60))  # about 60 points on the plot
    stats = await phase.sink.stats(
        latency=True, timeline=True, since_ns=since_ns, bucket_ms=bucket_ms
    )
    if stats["unique"] < measure:
        phase.note(f"only {stats['unique']} of {measure} deliveries within {ctx.phase_seconds} s")
    phase.result.update(delivery_figures(stats, phase))


def rss_growth(samples: list[tuple[float, float]], warmup_s: float = 5.0) -> float | None:
    """Resident memory at the end minus after the warm-up (the first sample when shorter)."""
    if len(samples) < 2:
        return None
    after_warmup = next((mib for at, mib in samples if at >= warmup_s), samples[0][1])
    return round(samples[-1][1] - after_warmup, 1)


def delivery_figures(stats: dict[str, Any], phase: Phase) -> dict[str, Any]:
    """The figures every mode reports from the sink's counters."""
    rate = stats.get("rate_since") or stats.get("receive_rate")
    return {
        "messages": stats["unique"],
        "delivery_rate": rate,
        "middle_rate": stats.get("middle_rate"),
        "latency_ms": stats.get("latency_ms"),
        "deliveries": {
            key: stats[key]
            for key in ("received", "unique", "duplicates", "retried", "signature_failures")
        },
        "server_rss_mib": (
            round(max(mib for _, mib in phase.rss_samples), 1) if phase.rss_samples else None
        ),
        "server_rss_growth_mib": rss_growth(phase.rss_samples),
        "rss_samples": phase.rss_samples,
        "timeline": stats.get("timeline", []),
    }
