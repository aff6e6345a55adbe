"""Scheduler test helpers: store a schedule directly, read what its ticks produced."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from wirepost import cron
from wirepost.domain import Message, Schedule
from wirepost.store import messages, schedules


def template(now: datetime, **fields: Any) -> Message:
    values: dict[str, Any] = {
        "id": "",
        "url": "",
        "method": "POST",
        "headers": {"Content-Type": ["text/plain"]},
        "body": b"tick",
        "max_retries": 3,
        "not_before": now,
        "created_at": now,
        "caller_ip": "203.0.113.7",
    }
    values.update(fields)
    return Message(**values)


async def add_schedule(
    pool: asyncpg.Pool,
    schedule_id: str,
    expression: str,
    *,
    created: datetime,
    destination: str = "http://127.0.0.1:9/hook",
    delay: timedelta = timedelta(0),
    paused: bool = False,
    **fields: Any,
) -> Schedule:
    """Store a schedule as the API would: first tick = the first one after ``created``."""
    schedule = Schedule(
        id=schedule_id,
        destination=destination,
        cron=expression,
        template=template(created, **fields),
        created_at=created,
        next_fire_at=cron.next_fire(cron.parse_cron(expression), created),
        delay=delay,
    )
    assert await schedules.upsert(pool, schedule, limit=100_000)
    if paused:
        assert await schedules.set_paused(pool, schedule_id, paused=True)
    return schedule


async def produced(pool: asyncpg.Pool, schedule_id: str) -> list[Message]:
    """Every message the schedule produced, oldest first."""
    rows = await pool.fetch(
        "SELECT * FROM messages WHERE schedule_id = $1 ORDER BY created_at, url", schedule_id
    )
    return [messages.from_record(r) for r in rows]


async def current(pool: asyncpg.Pool, schedule_id: str) -> Schedule:
    found = await schedules.find(pool, schedule_id)
    assert found is not None
    return found
