from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from tests.factories import make_message
from tests.store.attempts import record_attempts
from wirepost.domain import Delivered, GiveUp, Message, Response, Schedule
from wirepost.store import messages, schedules
from wirepost.store.queries import Q

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def make_schedule(schedule_id: str = "nightly", **overrides: Any) -> Schedule:
    template = Message(
        id="",
        url="",
        method="PUT",
        headers={"Content-Type": ["application/json"], "X-Two": ["a", "b"]},
        body=b'{"run": true}',
        max_retries=2,
        not_before=T0,
        created_at=T0,
        retry_delay="1000 * (1 + retried)",
        timeout_ms=5000,
        caller_ip="10.1.2.3",
        labels=("a", "b"),
        queue_name="q1",
        callback="https://cb.example.com/ok",
        callback_headers={"X-Cb": ["1"]},
        failure_callback="https://cb.example.com/fail",
        failure_callback_headers={"X-Fcb": ["2"]},
        callback_options={"callback": {"retries": 1}},
        flow_control_key="fk",
        flow_control={"parallelism": 2, "rate": 10, "period": 60},
        redact=("body",),
    )
    values: dict[str, Any] = {
        "id": schedule_id,
        "destination": "https://example.com/hook",
        "cron": "CRON_TZ=Europe/Berlin 0 3 * * *",
        "template": template,
        "created_at": T0,
        "next_fire_at": T0 + timedelta(hours=14),
        "delay": timedelta(seconds=90),
    }
    values.update(overrides)
    return Schedule(**values)


async def test_upsert_then_find_round_trips_the_template(pool: asyncpg.Pool):
    schedule = make_schedule()
    assert await schedules.upsert(pool, schedule, limit=10)
    found = await schedules.find(pool, "nightly")
    assert found is not None
    # A stored template remembers which schedule it belongs to; nothing else changes.
    assert found == replace(schedule, template=replace(schedule.template, schedule_id="nightly"))


async def test_find_returns_none_for_an_unknown_schedule(pool: asyncpg.Pool):
    assert await schedules.find(pool, "missing") is None


async def test_upsert_same_id_overwrites_but_keeps_created_at_pause_and_last_tick(
    pool: asyncpg.Pool,
):
    await schedules.upsert(pool, make_schedule(), limit=10)
    await schedules.set_paused(pool, "nightly", paused=True)
    await schedules.record_fire(
        pool, "nightly", next_fire_at=T0 + timedelta(days=1), fired_at=T0, message_ids=[], error="x"
    )
    later = T0 + timedelta(hours=1)
    updated = make_schedule(
        destination="https://other.example.com/",
        cron="*/5 * * * *",
        created_at=later,
        next_fire_at=later + timedelta(minutes=5),
        delay=timedelta(0),
    )
    assert await schedules.upsert(pool, updated, limit=1)  # at the limit, overwriting is fine
    found = await schedules.find(pool, "nightly")
    assert found is not None
    assert (found.destination, found.cron, found.delay) == (
        "https://other.example.com/",
        "*/5 * * * *",
        timedelta(0),
    )
    assert found.created_at == T0
    assert found.next_fire_at == later + timedelta(minutes=5)
    assert found.paused is True
    assert found.last_fire_at == T0
    assert found.error is None  # the new definition starts without the old error


async def test_upsert_refuses_a_new_schedule_beyond_the_limit(pool: asyncpg.Pool):
    assert await schedules.upsert(pool, make_schedule("one"), limit=2)
    assert await schedules.upsert(pool, make_schedule("two"), limit=2)
    assert not await schedules.upsert(pool, make_schedule("three"), limit=2)
    assert [s.id for s in await schedules.list_all(pool)] == ["one", "two"]


async def test_list_all_is_oldest_first(pool: asyncpg.Pool):
    await schedules.upsert(pool, make_schedule("b", created_at=T0 + timedelta(seconds=1)), limit=9)
    await schedules.upsert(pool, make_schedule("a", created_at=T0 + timedelta(seconds=2)), limit=9)
    await schedules.upsert(pool, make_schedule("c", created_at=T0), limit=9)
    assert [s.id for s in await schedules.list_all(pool)] == ["c", "b", "a"]


async def test_delete_reports_whether_the_schedule_existed(pool: asyncpg.Pool):
    await schedules.upsert(pool, make_schedule(), limit=10)
    assert await schedules.delete(pool, "nightly") is True
    assert await schedules.delete(pool, "nightly") is False
    assert await schedules.find(pool, "nightly") is None


async def test_set_paused_is_idempotent_and_reports_unknown_ids(pool: asyncpg.Pool):
    await schedules.upsert(pool, make_schedule(), limit=10)
    for paused in (True, True, False, False):
        assert await schedules.set_paused(pool, "nightly", paused=paused)
        found = await schedules.find(pool, "nightly")
        assert found is not None
        assert found.paused is paused
    assert not await schedules.set_paused(pool, "missing", paused=True)


async def test_claim_due_returns_only_due_schedules(pool: asyncpg.Pool):
    await schedules.upsert(pool, make_schedule("due", next_fire_at=T0), limit=10)
    await schedules.upsert(pool, make_schedule("later", next_fire_at=T0 + timedelta(1)), limit=10)
    async with pool.acquire() as conn, conn.transaction():
        claimed = await schedules.claim_due(conn, now=T0, limit=10)
    assert [s.id for s in claimed] == ["due"]
    assert await schedules.next_due_at(pool) == T0


async def test_claim_due_skips_rows_locked_by_another_worker(pool: asyncpg.Pool):
    for n in range(4):
        await schedules.upsert(pool, make_schedule(f"s{n}", next_fire_at=T0), limit=10)
    async with pool.acquire() as one, one.transaction():
        first = await schedules.claim_due(one, now=T0, limit=2)
        async with pool.acquire() as two, two.transaction():
            second = await schedules.claim_due(two, now=T0, limit=10)
    assert len(first) == 2
    assert len(second) == 2
    assert {s.id for s in first}.isdisjoint({s.id for s in second})


async def test_advance_moves_the_next_tick_without_recording_a_fire(pool: asyncpg.Pool):
    await schedules.upsert(pool, make_schedule(next_fire_at=T0), limit=10)
    await schedules.advance(pool, "nightly", next_fire_at=T0 + timedelta(days=1))
    found = await schedules.find(pool, "nightly")
    assert found is not None
    assert found.next_fire_at == T0 + timedelta(days=1)
    assert found.last_fire_at is None


async def test_next_due_at_is_none_without_schedules(pool: asyncpg.Pool):
    assert await schedules.next_due_at(pool) is None


async def test_last_states_follow_the_log_of_the_last_ticks_messages(pool: asyncpg.Pool):
    await schedules.upsert(pool, make_schedule(), limit=10)
    delivered, failed, waiting, cancelled = (
        make_message(T0, schedule_id="nightly") for _ in range(4)
    )
    await messages.insert_many(pool, [delivered, failed, waiting, cancelled], now=T0)
    await schedules.record_fire(
        pool,
        "nightly",
        next_fire_at=T0 + timedelta(days=1),
        fired_at=T0,
        message_ids=[delivered.id, failed.id, waiting.id, cancelled.id],
        error=None,
    )
    found = await schedules.find(pool, "nightly")
    assert found is not None
    assert set(found.last_states.values()) == {"IN_PROGRESS"}

    ok, boom = Response(200, {}, b""), Response(500, {}, b"boom")
    await record_attempts(pool, [(delivered, Delivered(ok)), (failed, GiveUp("500", boom))], now=T0)
    await messages.cancel_many(pool, [cancelled.id], now=T0)
    found = await schedules.find(pool, "nightly")
    assert found is not None
    assert found.last_states == {
        delivered.id: "SUCCESS",
        failed.id: "FAIL",
        waiting.id: "IN_PROGRESS",
        cancelled.id: "FAIL",
    }
    [listed] = await schedules.list_all(pool)
    assert listed.last_states == found.last_states


async def test_last_states_fall_back_when_the_log_was_pruned(pool: asyncpg.Pool):
    await schedules.upsert(pool, make_schedule(), limit=10)
    pending, dead, done = (make_message(T0) for _ in range(3))
    await messages.insert_many(pool, [pending, dead, done], now=T0)
    await record_attempts(
        pool,
        [(dead, GiveUp("gone", Response(410, {}, b""))), (done, Delivered(Response(200, {}, b"")))],
        now=T0,
    )
    await schedules.record_fire(
        pool,
        "nightly",
        next_fire_at=T0 + timedelta(days=1),
        fired_at=T0,
        message_ids=[pending.id, dead.id, done.id],
        error=None,
    )
    await pool.execute("DELETE FROM events")  # what retention does to old log entries
    found = await schedules.find(pool, "nightly")
    assert found is not None
    assert found.last_states == {pending.id: "IN_PROGRESS", dead.id: "FAIL", done.id: "SUCCESS"}


async def test_claim_due_can_use_the_next_fire_at_index(pool: asyncpg.Pool):
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = await conn.fetch("EXPLAIN " + Q["schedules.claim_due"], T0, 100)
    assert "schedules_next_fire_at_idx" in "\n".join(r[0] for r in plan)
