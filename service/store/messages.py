"""The ``messages`` table: insert (with deliveries and CREATED events), read, cancel, prune."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from wirepost.domain import Message
from wirepost.store.db import Executor
from wirepost.store.filters import MessageFilter
from wirepost.store.queries import Q

_INSERT_MANY = Q["messages.insert_many"]
_FIND = Q["messages.find"]
_CANCEL_MANY = Q["messages.cancel_many"]
_CANCEL_MATCHING = Q["messages.cancel_matching"]
_PRUNE = Q["messages.prune"]


_MESSAGE_FIELDS = tuple(f.name for f in dataclasses.fields(Message))


def from_record(r: asyncpg.Record | Mapping[str, Any]) -> Message:
    """Build a Message from a row holding every ``messages`` column.

    Runs once per claimed delivery, so it fills the instance's ``__dict__`` in one update
    instead of calling the frozen dataclass's ``__init__``, whose 26 ``object.__setattr__``
    calls were 5 % of the delivery loop's CPU. The result is an ordinary frozen Message."""
    values = {name: r[name] for name in _MESSAGE_FIELDS}
    values["labels"] = tuple(values["labels"])
    if values["redact"] is not None:
        values["redact"] = tuple(values["redact"])
    message: Message = object.__new__(Message)
    message.__dict__.update(values)
    return message


def _json_list(items: Sequence[str]) -> str:
    return orjson.dumps(list(items)).decode()


def _columns(messages: Sequence[Message]) -> list[list[Any]]:
    return [
        [m.id for m in messages],
        [m.url for m in messages],
        [m.method for m in messages],
        [m.headers for m in messages],
        [m.body for m in messages],
        [m.max_retries for m in messages],
        [m.retry_delay for m in messages],
        [m.timeout_ms for m in messages],
        [m.not_before for m in messages],
        [m.caller_ip for m in messages],
        [_json_list(m.labels) for m in messages],
        [m.topic_name for m in messages],
        [m.endpoint_name for m in messages],
        [m.queue_name for m in messages],
        [m.schedule_id for m in messages],
        [m.callback for m in messages],
        [m.callback_headers for m in messages],
        [m.failure_callback for m in messages],
        [m.failure_callback_headers for m in messages],
        [m.callback_options for m in messages],
        [m.flow_control_key for m in messages],
        [m.flow_control for m in messages],
        [_json_list(m.redact) if m.redact is not None else None for m in messages],
        [m.dedup_id for m in messages],
        [m.source_message_id for m in messages],
        [m.created_at for m in messages],
    ]


async def insert_many(db: Executor, messages: Sequence[Message], *, now: datetime) -> None:
    """Commit messages, a pending delivery and a CREATED event each (one atomic statement)."""
    if messages:
        await db.execute(_INSERT_MANY, now, *_columns(messages))


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
