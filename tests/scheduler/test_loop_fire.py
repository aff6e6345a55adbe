"""ScheduleLoop.run_once with a fixed clock: what a tick produces and how the schedule moves on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from tests.scheduler.schedule_rows import add_schedule, current, produced
from wirepost.clock import FixedClock
from wirepost.config import Settings
from wirepost.domain import Endpoint
from wirepost.scheduler.loop import ScheduleLoop
from wirepost.store import deliveries, schedules, url_groups
from wirepost.wakeup import Waker

T0 = datetime(2026, 5, 4, 10, 0, 30, tzinfo=UTC)


def loop_for(settings: Settings, pool: asyncpg.Pool, waker: Waker | None = None) -> ScheduleLoop:
    return ScheduleLoop(settings, pool, FixedClock(T0), waker)


async def test_run_once_fires_a_due_tick_once_and_moves_to_the_next(
    settings: Settings, pool: asyncpg.Pool
):
    await add_schedule(pool, "every5", "*/5 * * * *", created=T0, labels=("nightly",))
    loop = loop_for(settings, pool)
    tick = datetime(2026, 5, 4, 10, 5, tzinfo=UTC)
    assert await loop.run_once(tick - timedelta(seconds=1)) == 0
    assert await loop.run_once(tick) == 1
    assert await loop.run_once(tick + timedelta(seconds=30)) == 0  # already fired
    [message] = await produced(pool, "every5")
    assert message.url == "http://127.0.0.1:9/hook"
    assert message.schedule_id == "every5"
    assert message.body == b"tick"
    assert message.labels == ("nightly",)
    assert message.caller_ip == "203.0.113.7"  # the creator's IP, not the scheduler's
    assert (message.created_at, message.not_before) == (tick, tick)
    schedule = await current(pool, "every5")
    assert schedule.last_fire_at == tick
    assert schedule.next_fire_at == tick + timedelta(minutes=5)
    assert schedule.last_states == {message.id: "IN_PROGRESS"}
    assert schedule.error is None


async def test_run_once_makes_the_message_deliverable_and_wakes_delivery(
    settings: Settings, pool: asyncpg.Pool
):
    await add_schedule(pool, "minutely", "* * * * *", created=T0)
    waker = Waker()
    tick = datetime(2026, 5, 4, 10, 1, tzinfo=UTC)
    assert await loop_for(settings, pool, waker).run_once(tick) == 1
    assert waker.local.is_set()
    claimed = await deliveries.claim_due(pool, limit=10, lease=timedelta(seconds=30), now=tick)
    assert [c.message.schedule_id for c in claimed] == ["minutely"]


async def test_downtime_fires_missed_ticks_once_not_as_a_burst(
    settings: Settings, pool: asyncpg.Pool
):
    await add_schedule(pool, "every5", "*/5 * * * *", created=T0)  # first tick 10:05
    back = datetime(2026, 5, 4, 10, 31, 12, tzinfo=UTC)  # down from 10:02 to 10:31
    loop = loop_for(settings, pool)
    assert await loop.run_once(back) == 1
    assert await loop.run_once(back) == 0
    assert len(await produced(pool, "every5")) == 1
    schedule = await current(pool, "every5")
    assert schedule.last_fire_at == back
    assert schedule.next_fire_at == datetime(2026, 5, 4, 10, 35, tzinfo=UTC)


async def test_paused_schedule_skips_its_ticks_and_resumes_without_replaying_them(
    settings: Settings, pool: asyncpg.Pool
):
    await add_schedule(pool, "hourly", "0 * * * *", created=T0, paused=True)
    loop = loop_for(settings, pool)
    eleven, noon = (datetime(2026, 5, 4, h, 0, tzinfo=UTC) for h in (11, 12))
    assert await loop.run_once(eleven) == 0
    assert await produced(pool, "hourly") == []
    paused = await current(pool, "hourly")
    assert paused.next_fire_at == noon  # advanced, not fired
    assert paused.last_fire_at is None
    await schedules.set_paused(pool, "hourly", paused=False)
    assert await loop.run_once(noon - timedelta(minutes=1)) == 0  # 11:00 is not replayed
    assert await loop.run_once(noon) == 1
    assert [m.created_at for m in await produced(pool, "hourly")] == [noon]


async def test_delay_is_added_to_each_tick(settings: Settings, pool: asyncpg.Pool):
    await add_schedule(pool, "late", "* * * * *", created=T0, delay=timedelta(minutes=2))
    tick = datetime(2026, 5, 4, 10, 1, tzinfo=UTC)
    await loop_for(settings, pool).run_once(tick)
    [message] = await produced(pool, "late")
    assert message.not_before == tick + timedelta(minutes=2)
    assert await deliveries.claim_due(pool, limit=9, lease=timedelta(seconds=30), now=tick) == []


async def test_queue_name_enqueues_each_tick_to_that_queue(settings: Settings, pool: asyncpg.Pool):
    await add_schedule(pool, "queued", "* * * * *", created=T0, queue_name="nightly-jobs")
    await loop_for(settings, pool).run_once(datetime(2026, 5, 4, 10, 1, tzinfo=UTC))
    [message] = await produced(pool, "queued")
    assert message.queue_name == "nightly-jobs"
    gate = await pool.fetchrow("SELECT kind FROM gates WHERE name = 'nightly-jobs'")
    assert gate is not None
    assert gate["kind"] == "queue"


async def test_group_destination_fans_out_one_message_per_endpoint(
    settings: Settings, pool: asyncpg.Pool
):
    endpoints = [Endpoint("http://127.0.0.1:9/a", "first"), Endpoint("http://127.0.0.1:9/b")]
    await url_groups.upsert_endpoints(pool, "team", endpoints, now=T0, max_endpoints=10)
    await add_schedule(pool, "fan", "* * * * *", created=T0, destination="team")
    tick = datetime(2026, 5, 4, 10, 1, tzinfo=UTC)
    assert await loop_for(settings, pool).run_once(tick) == 1
    made = await produced(pool, "fan")
    assert [(m.url, m.topic_name, m.endpoint_name) for m in made] == [
        ("http://127.0.0.1:9/a", "team", "first"),
        ("http://127.0.0.1:9/b", "team", None),
    ]
    schedule = await current(pool, "fan")
    assert set(schedule.last_states) == {m.id for m in made}


async def test_missing_group_records_an_error_and_still_advances(
    settings: Settings, pool: asyncpg.Pool
):
    await add_schedule(pool, "orphan", "* * * * *", created=T0, destination="gone")
    await add_schedule(pool, "fine", "* * * * *", created=T0)
    tick = datetime(2026, 5, 4, 10, 1, tzinfo=UTC)
    assert await loop_for(settings, pool).run_once(tick) == 2
    assert await produced(pool, "orphan") == []
    assert len(await produced(pool, "fine")) == 1  # one bad schedule does not stop the others
    orphan = await current(pool, "orphan")
    assert orphan.error is not None
    assert "gone" in orphan.error
    assert orphan.last_fire_at == tick
    assert orphan.last_states == {}
    assert orphan.next_fire_at == tick + timedelta(minutes=1)


async def test_refused_destination_records_an_error(make_settings, pool: asyncpg.Pool):
    strict = make_settings(destination_allowlist=())  # loopback no longer allowed
    await add_schedule(pool, "private", "* * * * *", created=T0)
    tick = datetime(2026, 5, 4, 10, 1, tzinfo=UTC)
    assert await loop_for(strict, pool).run_once(tick) == 1
    assert await produced(pool, "private") == []
    schedule = await current(pool, "private")
    assert schedule.error is not None
    assert "refused" in schedule.error
    assert schedule.next_fire_at == tick + timedelta(minutes=1)


async def test_a_failing_schedule_is_rolled_back_alone(settings: Settings, pool: asyncpg.Pool):
    # A constraint the insert violates stands in for an unexpected error while firing.
    broken_url = "http://127.0.0.1:9/broken"
    await pool.execute(f"ALTER TABLE messages ADD CONSTRAINT t CHECK (url <> '{broken_url}')")
    await add_schedule(pool, "broken", "* * * * *", created=T0, destination=broken_url)
    await add_schedule(pool, "fine", "* * * * *", created=T0)
    tick = datetime(2026, 5, 4, 10, 1, tzinfo=UTC)
    assert await loop_for(settings, pool).run_once(tick) == 2
    assert await produced(pool, "broken") == []
    assert len(await produced(pool, "fine")) == 1
    broken = await current(pool, "broken")
    assert broken.error is not None
    assert "internal error" in broken.error
    assert broken.next_fire_at == tick + timedelta(minutes=1)
