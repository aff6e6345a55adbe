"""Commits new messages to the outbox, honouring deduplication keys, then wakes the delivery
loops. Shared by the API (publish, batch, DLQ retry), the scheduler and callbacks.

The caller answers its client only after ``publish`` returns: by then the transaction holding
the messages, their deliveries and their CREATED events has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from wirepost.domain import Message, new_id
from wirepost.group_commit import GroupCommit
from wirepost.store import dead_letters, deduplication_keys, gates, messages
from wirepost.store.db import Executor, Pool, transaction
from wirepost.wakeup import Waker


@dataclass(frozen=True)
class Published:
    message_id: str
    url: str
    deduplicated: bool = False


async def publish(
    pool: Pool,
    batch: Sequence[Message],
    *,
    now: datetime,
    dedup_window: timedelta,
    waker: Waker | None,
    group: GroupCommit | None = None,
) -> list[Published]:
    """Store ``batch`` atomically; a message whose ``dedup_id`` is taken reports the owner.

    Queues and flow-control keys the messages name are created (and flow limits updated) in the
    same transaction. A batch with neither dedup ids nor gates is one statement, shared with
    concurrent publishes when ``group`` is given.
    """
    gated = any(m.queue_name or m.flow_control_key for m in batch)
    handed_off = 0  # sent by this process's delivery loop without a claim: no wake-up needed
    if not gated and not any(m.dedup_id for m in batch):
        if group is not None:
            # Shares a statement with concurrent publishes.
            handed_off = await group.insert(batch, now=now)
        else:
            await messages.insert_many(pool, batch, now=now)
        fresh = list(batch)
        results = [Published(m.id, m.url) for m in batch]
    else:
        async with transaction(pool) as conn:
            fresh, results = await _deduplicate(conn, batch, now=now, window=dedup_window)
            if gated:
                await gates.prepare_for(conn, fresh, now=now)
            await messages.insert_many(conn, fresh, now=now)
    if waker is not None and sum(m.not_before <= now for m in fresh) > handed_off:
        waker.wake()
    return results


async def _deduplicate(
    conn: Executor, batch: Sequence[Message], *, now: datetime, window: timedelta
) -> tuple[list[Message], list[Published]]:
    """Claim each message's dedup key; a key already owned makes that message a duplicate."""
    fresh, results = [], []
    for m in batch:
        owner = m.id
        if m.dedup_id:
            owner = await deduplication_keys.claim(
                conn, m.dedup_id, m.id, expires_at=now + window, now=now
            )
        if owner == m.id:
            fresh.append(m)
        results.append(Published(owner, m.url, deduplicated=owner != m.id))
    return fresh, results


async def retry_dead_letters(
    pool: Pool,
    dlq_ids: Sequence[int],
    *,
    now: datetime,
    adjust: Callable[[Message], Message],
    waker: Waker | None,
) -> list[Published]:
    """Take DLQ entries and publish each message again (new id, due now, ``adjust`` applied),
    in one transaction: an entry is gone exactly when its new message is stored."""
    async with transaction(pool) as conn:
        taken = await dead_letters.take_many(conn, dlq_ids)
        fresh = [
            adjust(
                replace(d.message, id=new_id("msg_"), not_before=now, created_at=now, dedup_id=None)
            )
            for d in taken
        ]
        await messages.insert_many(conn, fresh, now=now)
    if waker is not None and fresh:
        waker.wake()
    return [Published(m.id, m.url) for m in fresh]
