"""Exactly once per tick across replicas, time-zone edges, and the long-running loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from tests.conftest import wait_until
from tests.scheduler.schedule_rows import add_schedule, current, produced
from wirepost.clock import FixedClock, SystemClock
from wirepost.config import Settings
from wirepost.scheduler.loop import CLAIM_BATCH, ScheduleLoop
from wirepost.store import db as store_db

T0 = datetime(2026, 5, 4, 10, 0, 30, tzinfo=UTC)


@pytest.fixture
async def other_pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    """A second replica's pool on the same database."""
    p = await store_db.create_pool(db_dsn, min_size=1, max_size=5)
    yield p
    await p.close()


async def test_two_replicas_racing_fire_each_tick_exactly_once(
    settings: Settings, pool: asyncpg.Pool, other_pool: asyncpg.Pool
):
    count = CLAIM_BATCH + 30  # more than one claim batch, so both replicas loop
    for n in range(count):
        await add_schedule(pool, f"s{n:03}", "* * * * *", created=T0)
    replicas = [ScheduleLoop(settings, p, FixedClock(T0), None) for p in (pool, other_pool)]
    for minute in (1, 2, 3):
        tick = datetime(2026, 5, 4, 10, minute, tzinfo=UTC)
        fired = await asyncio.gather(*(r.run_once(tick) for r in replicas * 2))
        assert sum(fired) == count  # every schedule once, whoever fired it
    rows = await pool.fetch(
        "SELECT schedule_id, count(*) AS n, count(DISTINCT created_at) AS ticks "
        "FROM messages GROUP BY schedule_id"
    )
    assert len(rows) == count
    assert {(r["n"], r["ticks"]) for r in rows} == {(3, 3)}


async def test_cron_tz_spring_forward_fires_once_after_the_gap(
    settings: Settings, pool: asyncpg.Pool
):
    # 02:30 New York does not exist on 2026-03-08: Vixie cron fires at 03:00 EDT (07:00 UTC).
    created = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    schedule = await add_schedule(
        pool, "ny", "CRON_TZ=America/New_York 30 2 * * *", created=created
    )
    after_gap = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)
    assert schedule.next_fire_at == after_gap
    loop = ScheduleLoop(settings, pool, FixedClock(created), None)
    assert await loop.run_once(after_gap - timedelta(seconds=1)) == 0
    assert await loop.run_once(after_gap) == 1
    assert await loop.run_once(after_gap + timedelta(hours=1)) == 0
    assert (await current(pool, "ny")).next_fire_at == datetime(2026, 3, 9, 6, 30, tzinfo=UTC)


async def test_cron_tz_fall_back_fires_a_repeated_wall_time_once(
    settings: Settings, pool: asyncpg.Pool
):
    # 01:30 New York happens twice on 2026-11-01 (05:30 UTC in EDT, 06:30 UTC in EST).
    created = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    await add_schedule(pool, "ny", "CRON_TZ=America/New_York 30 1 * * *", created=created)
    loop = ScheduleLoop(settings, pool, FixedClock(created), None)
    first, repeat = (datetime(2026, 11, 1, h, 30, tzinfo=UTC) for h in (5, 6))
    assert await loop.run_once(first) == 1
    assert await loop.run_once(repeat) == 0
    assert len(await produced(pool, "ny")) == 1
    assert (await current(pool, "ny")).next_fire_at == datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


async def test_run_fires_due_schedules_until_stopped(settings: Settings, pool: asyncpg.Pool):
    now = datetime.now(UTC)
    await add_schedule(pool, "soon", "* * * * *", created=now - timedelta(minutes=2))
    loop = ScheduleLoop(settings, pool, SystemClock(), None)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await wait_until(lambda: produced(pool, "soon"), timeout=10)
    stop.set()
    await asyncio.wait_for(task, timeout=5)
    assert len(await produced(pool, "soon")) == 1


async def test_run_survives_a_lost_database_and_stops_on_request(make_settings, db_dsn: str):
    settings = make_settings(poll_interval=timedelta(milliseconds=50))
    lost = await store_db.create_pool(db_dsn, min_size=1, max_size=2)
    await lost.close()  # every query now fails as if the database went away
    loop = ScheduleLoop(settings, lost, SystemClock(), None)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    await asyncio.sleep(1.0)  # several failed passes with backoff
    assert not task.done()
    stop.set()
    await asyncio.wait_for(task, timeout=5)
