"""Fan-out: publish to a URL group of K endpoints and measure delivery of the K copies.

The group (`POST /v2/topics/{name}/endpoints`) holds K sink paths; N/K messages are published to
it as a backlog (same `Upstash-Not-Before` hold as drain), so N deliveries are measured. The
peers have no URL groups: compare this rate with their drain rate. Skipped with a note when the
server answers 404 (URL groups not built yet).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from loadtest.modes.drain import hold_time, measure_delivery
from loadtest.phase import RunContext, measured_phase, sql_begin
from loadtest.publishers import EndpointMissing, Publisher, publish_backlog
from loadtest.wirepost_server import WirepostLauncher


async def wirepost_fanout(
    ctx: RunContext, launcher: WirepostLauncher, n: int, endpoints: int
) -> dict[str, Any]:
    messages = max(1, n // endpoints)
    async with measured_phase(
        ctx,
        queue="wirepost",
        mode="fanout",
        database_name=f"wp_fanout_{n}",
        verify_keys=launcher.keys,
        fresh_database=launcher.target is None,
    ) as phase:
        server = await launcher.start(phase)
        publisher = Publisher(ctx.api, server.base_url, server.token)
        group = "bench-fanout"
        try:
            await publisher.create_group(
                group, [phase.sink.url(f"/in/g{index}") for index in range(endpoints)]
            )
        except EndpointMissing as missing:
            phase.result["skipped"] = f"URL groups are not available on this server ({missing})"
            return phase.result
        not_before, phase.result["probe"] = await hold_time(ctx, phase, publisher, n)
        await sql_begin(ctx, phase)
        published = await publish_backlog(
            publisher,
            group,
            messages,
            headers={"Upstash-Not-Before": str(not_before)},
            deadline=time.monotonic() + ctx.phase_seconds,
        )
        published_ns = time.time_ns()
        phase.result.update({"endpoints": endpoints, "ingest": published.as_json()})
        await asyncio.sleep(max(0.0, not_before - time.time()))
        await measure_delivery(ctx, phase, published.published * endpoints, published_ns)
        return phase.result
