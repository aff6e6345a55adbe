"""The ``messages`` table: insert (with deliveries and CREATED events), read, cancel, prune."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from wirepost.domain import MESSAGE_FIELDS, Handoff, Message, message_from_fields
from wirepost.store.db import Executor
from wirepost.store.filters import MessageFilter
from wirepost.store.queries import Q

_INSERT_MANY = Q["messages.insert_many"]
_FIND = Q["messages.find"]
_CANCEL_MANY = Q["messages.cancel_many"]
_CANCEL_MATCHING = Q["messages.cancel_matching"]
_PRUNE = Q["messages.prune"]


def from_record(r: asyncpg.Record | Mapping[str, Any]) -> Message:
    """Build a Message from a row holding every ``messages`` column, read by name."""
    return from_columns([r[name] for name in MESSAGE_FIELDS])


def from_columns(row: asyncpg.Record | Sequence[Any]) -> Message:
    """Build a Message from a row that starts with every ``messages`` column in the order of
    ``MESSAGE_FIELDS`` (further columns are ignored). Once per claimed delivery, so it reads by
    position into a dict display: a third of the time of ``dict(zip(MESSAGE_FIELDS, row))``,
    which cost as much as the rest of decoding the claim's row."""
    redact = row[23]
    return message_from_fields(
        {
            "id": row[0],
            "url": row[1],
            "method": row[2],
            "headers": row[3],
            "body": row[4],
            "max_retries": row[5],
            "not_before": row[6],
            "created_at": row[7],
            "retry_delay": row[8],
            "timeout_ms": row[9],
            "caller_ip": row[10],
            "labels": tuple(row[11]),
            "topic_name": row[12],
            "endpoint_name": row[13],
            "queue_name": row[14],
            "schedule_id": row[15],
            "callback": row[16],
            "callback_headers": row[17],
            "failure_callback": row[18],
            "failure_callback_headers": row[19],
            "callback_options": row[20],
            "flow_control_key": row[21],
            "flow_control": row[22],
            "redact": None if redact is None else tuple(redact),
            "dedup_id": row[24],
            "source_message_id": row[25],
        }
    )


def _row(m: Message) -> list[Any]:
    """One message but its body, as ``messages.insert_many`` reads it (see its comment in sql/)."""
    return [
        m.id,
        m.url,
        m.method,
        m.headers,
        m.max_retries,
        m.retry_delay,
        m.timeout_ms,
        m.not_before,
        m.caller_ip,
        list(m.labels),
        m.topic_name,
        m.endpoint_name,
        m.queue_name,
        m.schedule_id,
        m.callback,
        m.callback_headers,
        m.failure_callback,
        m.failure_callback_headers,
        m.callback_options,
        m.flow_control_key,
        m.flow_control,
        None if m.redact is None else list(m.redact),
        m.dedup_id,
        m.source_message_id,
        m.created_at,
    ]


async def insert_many(
    db: Executor, messages: Sequence[Message], *, now: datetime, handoff: Handoff | None = None
) -> None:
    """Commit messages, a pending delivery and a CREATED event each (one atomic statement).

    The messages of ``handoff`` (some of ``messages``) are stored already claimed until
    ``handoff.until``, for this process's delivery loop to send without a claim."""
    if messages:
        await db.execute(
            _INSERT_MANY,
            now,
            [_row(m) for m in messages],
            [m.body for m in messages],
            [m.id for m in handoff.messages] if handoff else [],
            handoff.until if handoff else None,
        )


async def prepare_insert(db: Executor, *, now: datetime) -> None:
    """Run ``insert_many``'s statement on no messages, so that ``db`` holds it prepared."""
    await db.execute(_INSERT_MANY, now, [], [], [], None)


async def find(db: Executor, message_id: str) -> Message | None:
    row = await db.fetchrow(_FIND, message_id)
    return from_record(row) if row else None


async def cancel_many(db: Executor, message_ids: Sequence[str], *, now: datetime) -> list[str]:
    """Cancel messages still waiting for delivery; returns those that were cancelled."""
    rows = await db.fetch(_CANCEL_MANY, list(message_ids), now)
    return [r["message_id"] for r in rows]


async def cancel_matching(
    db: Executor, where: MessageFilter, *, limit: int | None, now: datetime
) -> list[str]:
    """Cancel up to ``limit`` (None = every) pending messages created up to ``now`` that match
    ``where``, oldest first, as ``cancel_many`` does; returns the cancelled ids."""
    rows = await db.fetch(_CANCEL_MATCHING, now, limit, *where.args())
    return [r["message_id"] for r in rows]


async def prune(db: Executor, *, before: datetime, limit: int) -> int:
    status = await db.execute(_PRUNE, before, limit)
    return int(status.split()[-1])
