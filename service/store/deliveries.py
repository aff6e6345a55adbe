"""The ``deliveries`` table (the hot outbox): claim due work under a lease, renew leases,
record attempt outcomes in batches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg

from wirepost.domain import MESSAGE_FIELDS, Claimed, Delivered, Outcome, RetryLater
from wirepost.store import messages
from wirepost.store.db import Executor
from wirepost.store.queries import Q

_CLAIM_DUE = Q["deliveries.claim_due"]
_CLAIMS, _RETRIED = len(MESSAGE_FIELDS), len(MESSAGE_FIELDS) + 1  # after the message's columns
_EXTEND_LEASES = Q["deliveries.extend_leases"]
_LOG_ACTIVE = Q["deliveries.log_active"]
_COMPLETE_MANY = Q["deliveries.complete_many"]
_COMPLETE_DELIVERED = Q["deliveries.complete_delivered"]
_NEXT_DUE_AT = Q["deliveries.next_due_at"]
_COUNT_PENDING = Q["deliveries.count_pending"]
_NOTIFY = Q["deliveries.notify"]

CHANNEL = "wirepost_deliveries"


NO_BYTE_BUDGET = 2**62


async def claim_due(
    db: Executor,
    *,
    limit: int,
    lease: timedelta,
    now: datetime,
    max_bytes: int = NO_BYTE_BUDGET,
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries, oldest first, stopping once their bodies reach
    ``max_bytes`` (the first is always taken, so at most ``max_bytes`` plus one body)."""
    rows = await db.fetch(_CLAIM_DUE, now, limit, now + lease, max_bytes)
    return [Claimed(messages.from_columns(r), r[_CLAIMS], r[_RETRIED]) for r in rows]


async def prepare_claim_and_complete(db: Executor, *, now: datetime) -> None:
    """Run the statements of ``claim_due`` and ``complete_many`` (both of its statements) on
    nothing (a limit of 0, no outcomes), so that ``db`` holds them prepared."""
    await db.fetch(_CLAIM_DUE, now, 0, now, 0)
    await db.fetch(_COMPLETE_MANY, now, [], [], [], False)
    await db.fetch(_COMPLETE_DELIVERED, now, [], [], [], False)


async def extend_leases(db: Executor, claimed: Sequence[Claimed], *, until: datetime) -> None:
    if claimed:
        await db.execute(
            _EXTEND_LEASES, [c.message.id for c in claimed], [c.claims for c in claimed], until
        )


async def log_active(db: Executor, claimed: Sequence[Claimed]) -> None:
    """Log ACTIVE for these attempts, still running, whose ACTIVE is not logged yet (it is
    otherwise logged with their outcome); the lease fences off attempts no longer ours."""
    if claimed:
        await db.execute(_LOG_ACTIVE, [c.message.id for c in claimed], [c.claims for c in claimed])


async def complete_many(
    db: Executor, results: Sequence[tuple[Claimed, Outcome]], *, now: datetime
) -> dict[str, int | None]:
    """Record outcomes; those whose lease was lost meanwhile are skipped. Returns the applied
    ones: message id → DLQ entry id (None unless the message was dead-lettered). A batch of
    deliveries only (the usual case) takes a leaner statement with the same effect."""
    rows = await _complete(db, results, now=now, applied=True)
    return {r["message_id"]: r["dlq_id"] for r in rows}


async def record_many(
    db: Executor, results: Sequence[tuple[Claimed, Outcome]], *, now: datetime
) -> None:
    """``complete_many`` for a caller that does not need to know which outcomes applied: the
    same writes, no row back (a claim's worth of ids is a third of a millisecond of decoding)."""
    await _complete(db, results, now=now, applied=False)


async def _complete(
    db: Executor, results: Sequence[tuple[Claimed, Outcome]], *, now: datetime, applied: bool
) -> list[asyncpg.Record]:
    if not results:
        return []
    all_delivered = all(isinstance(outcome, Delivered) for _, outcome in results)
    return await db.fetch(
        _COMPLETE_DELIVERED if all_delivered else _COMPLETE_MANY,
        now,
        [claimed.message.id for claimed, _ in results],
        [
            [
                claimed.claims,
                _kind(outcome),
                outcome.at if isinstance(outcome, RetryLater) else None,
                outcome.response.status,
                None if isinstance(outcome, Delivered) else outcome.error,
                outcome.response.headers,
            ]
            for claimed, outcome in results
        ],
        [outcome.response.body for _, outcome in results],
        applied,
    )


def _kind(outcome: Outcome) -> str:
    if isinstance(outcome, Delivered):
        return "delivered"
    if isinstance(outcome, RetryLater):
        return "retry"
    return "failed"


async def next_due_at(db: Executor, *, now: datetime) -> datetime | None:
    when: datetime | None = await db.fetchval(_NEXT_DUE_AT, now)
    return when


async def count_pending(db: Executor) -> int:
    return int(await db.fetchval(_COUNT_PENDING))


async def notify(db: Executor, *, origin: str) -> None:
    """Tell every replica's delivery loop (LISTENing on ``CHANNEL``) that work came due;
    ``origin`` names the sender, whose own loop skips the notification."""
    await db.execute(_NOTIFY, origin)
