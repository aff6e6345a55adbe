"""Store tests' shortcut: messages that have had an attempt with a given outcome."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from wirepost.domain import Message, Outcome
from wirepost.store import deliveries

LEASE = timedelta(seconds=30)


async def record_attempts(
    pool: asyncpg.Pool, outcomes: Sequence[tuple[Message, Outcome]], *, now: datetime
) -> None:
    """Claim every delivery due at ``now`` and record ``outcomes`` for the listed messages; the
    others stay claimed (in flight)."""
    claimed = {
        c.message.id: c for c in await deliveries.claim_due(pool, limit=100, lease=LEASE, now=now)
    }
    await deliveries.complete_many(
        pool, [(claimed[message.id], outcome) for message, outcome in outcomes], now=now
    )
