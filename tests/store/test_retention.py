"""Retention: history older than the settings is pruned; pending work and recent history stay."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from tests.factories import make_message
from tests.store.attempts import record_attempts
from wirepost.clock import FixedClock
from wirepost.config import Settings
from wirepost.domain import Delivered, GiveUp, Response
from wirepost.retention import RetentionLoop
from wirepost.store import deduplication_keys, messages


async def _count(pool: asyncpg.Pool, table: str) -> int:
    return await pool.fetchval(f"SELECT count(*) FROM {table}")  # noqa: S608 - fixed names


async def test_run_once_prunes_only_what_is_past_retention(
    pool: asyncpg.Pool, make_settings, clock: FixedClock
):
    settings: Settings = make_settings(retention=timedelta(days=7), dlq_retention=timedelta(days=3))
    old = clock.now() - timedelta(days=10)
    delivered, dead, pending = (make_message(old) for _ in range(3))
    await messages.insert_many(pool, [delivered, dead, pending], now=old)
    await record_attempts(
        pool,
        [(delivered, Delivered(Response(200))), (dead, GiveUp("HTTP 500", Response(500)))],
        now=old,
    )
    await deduplication_keys.claim(pool, "k", delivered.id, expires_at=old, now=old)
    recent = make_message(clock.now())
    await messages.insert_many(pool, [recent], now=clock.now())

    pruned = await RetentionLoop(settings, pool, clock).run_once()

    assert pruned > 0
    remaining = {r["id"] for r in await pool.fetch("SELECT id FROM messages")}
    # the delivered one is gone; the dead-lettered one went with its DLQ entry (older than 3 days);
    # the pending one is kept whatever its age, and so is the recent one
    assert remaining == {pending.id, recent.id}
    assert await _count(pool, "dead_letters") == 0
    assert await _count(pool, "deduplication_keys") == 0
    states = await pool.fetch("SELECT DISTINCT message_id FROM events")
    assert {r["message_id"] for r in states} == {recent.id}


async def test_run_once_keeps_a_dead_letter_inside_its_retention(
    pool: asyncpg.Pool, make_settings, clock: FixedClock
):
    settings: Settings = make_settings(
        retention=timedelta(days=1), dlq_retention=timedelta(days=30)
    )
    old = clock.now() - timedelta(days=5)
    dead = make_message(old)
    await messages.insert_many(pool, [dead], now=old)
    await record_attempts(pool, [(dead, GiveUp("HTTP 500", Response(500)))], now=old)

    await RetentionLoop(settings, pool, clock).run_once()

    assert await _count(pool, "dead_letters") == 1
    assert await messages.find(pool, dead.id) is not None  # the DLQ entry still needs it
