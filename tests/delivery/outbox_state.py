"""Readers for what the delivery loop left in the database: event states, the outbox row's
due time, dead-letter entries."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from tests.conftest import wait_until
from wirepost.domain import DeadLetter, State
from wirepost.store import dead_letters, events
from wirepost.store.filters import DeadLetterFilter, EventFilter


async def states_of(pool: asyncpg.Pool, message_id: str) -> list[State]:
    page, _ = await events.list_page(
        pool, EventFilter(message_ids=[message_id]), after=None, limit=100, latest_first=False
    )
    return [e.state for e in page]


async def available_at(pool: asyncpg.Pool, message_id: str) -> datetime | None:
    """When the message's delivery comes due again; None once it has left the outbox."""
    when: datetime | None = await pool.fetchval(
        "SELECT available_at FROM deliveries WHERE message_id = $1", message_id
    )
    return when


async def wait_recorded(pool: asyncpg.Pool, message_id: str, timeout: float = 5) -> None:
    """Until the message's outcome is recorded (its delivery has left the outbox)."""

    async def recorded() -> bool:
        return await available_at(pool, message_id) is None

    await wait_until(recorded, timeout=timeout)


async def dead_letters_of(pool: asyncpg.Pool, message_id: str) -> list[DeadLetter]:
    page, _ = await dead_letters.list_page(
        pool, DeadLetterFilter(message_ids=[message_id]), after=None, limit=10
    )
    return page
