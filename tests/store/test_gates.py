"""Gate admission under concurrency: replicas admitting at once never exceed a gate's limits."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.factories import make_message
from wirepost.clock import FixedClock
from wirepost.store import db as store_db
from wirepost.store import gates, messages


async def _admitted(pool: asyncpg.Pool, gate: str) -> int:
    return await pool.fetchval(
        "SELECT count(*) FROM deliveries WHERE gate_name = $1 AND available_at <> 'infinity'",
        gate,
    )


async def test_concurrent_admits_never_exceed_parallelism(
    pool: asyncpg.Pool, db_dsn: str, clock: FixedClock
):
    now = clock.now()
    await gates.upsert_queue(pool, "race", parallelism=2, paused=False, now=now)
    batch = [make_message(now, queue_name="race") for _ in range(40)]
    await messages.insert_many(pool, batch, now=now)
    pools = [await store_db.create_pool(db_dsn, min_size=1, max_size=2) for _ in range(6)]
    try:
        for _ in range(15):
            await asyncio.gather(*(gates.admit(p, now=now) for p in pools))
            assert await _admitted(pool, "race") <= 2
            # finish what was admitted, so the next round has room again
            await pool.execute(
                "DELETE FROM deliveries WHERE gate_name = 'race' AND available_at <> 'infinity'"
            )
    finally:
        for p in pools:
            await p.close()


async def test_concurrent_admits_never_exceed_the_rate(
    pool: asyncpg.Pool, db_dsn: str, clock: FixedClock
):
    now = clock.now()
    limits = {"parallelism": None, "rate": 5, "period": 3600}
    batch = [make_message(now, flow_control_key="rated", flow_control=limits) for _ in range(60)]
    await gates.prepare_for(pool, batch, now=now)
    await messages.insert_many(pool, batch, now=now)
    pools = [await store_db.create_pool(db_dsn, min_size=1, max_size=2) for _ in range(6)]
    try:
        for _ in range(5):
            await asyncio.gather(*(gates.admit(p, now=now) for p in pools))
        assert await _admitted(pool, "rated") == 5
    finally:
        for p in pools:
            await p.close()
