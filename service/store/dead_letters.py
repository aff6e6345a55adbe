"""The ``dead_letters`` table: messages that exhausted their retries (the DLQ)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from wirepost.domain import DeadLetter, Response
from wirepost.errors import NotFound
from wirepost.store import messages
from wirepost.store.db import Executor
from wirepost.store.filters import DeadLetterFilter
from wirepost.store.queries import Q

_LIST_PAGE = Q["dead_letters.list_page"]
_FIND = Q["dead_letters.find"]
_DELETE_MANY = Q["dead_letters.delete_many"]
_TAKE_MANY = Q["dead_letters.take_many"]
_PRUNE = Q["dead_letters.prune"]


def from_record(r: asyncpg.Record | Mapping[str, Any]) -> DeadLetter:
    return DeadLetter(
        id=r["dlq_id"],
        created_at=r["dlq_created_at"],
        message=messages.from_record(r),
        response=Response(
            r["response_status"], r["response_headers"] or {}, r["response_body"] or b""
        ),
        error=r["dlq_error"],
    )


async def list_page(
    db: Executor,
    where: DeadLetterFilter,
    *,
    after: int | None,
    limit: int,
    earliest_first: bool = True,
) -> tuple[list[DeadLetter], int | None]:
    rows = await db.fetch(
        _LIST_PAGE, after, limit + 1, "asc" if earliest_first else "desc", *where.args()
    )
    page = [from_record(r) for r in rows[:limit]]
    return page, (page[-1].id if len(rows) > limit else None)


async def get(db: Executor, dlq_id: int) -> DeadLetter:
    row = await db.fetchrow(_FIND, dlq_id)
    if row is None:
        raise NotFound(f"no DLQ entry {dlq_id} (deleted, retried or expired)")
    return from_record(row)


async def delete_many(db: Executor, dlq_ids: Sequence[int]) -> list[int]:
    return [r["id"] for r in await db.fetch(_DELETE_MANY, list(dlq_ids))]


async def take_many(db: Executor, dlq_ids: Sequence[int]) -> list[DeadLetter]:
    """Remove entries (to retry them) and return what they held."""
    return [from_record(r) for r in await db.fetch(_TAKE_MANY, list(dlq_ids))]


async def prune(db: Executor, *, before: datetime, limit: int) -> int:
    status = await db.execute(_PRUNE, before, limit)
    return int(status.split()[-1])
