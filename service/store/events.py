"""The ``events`` table: one row per state transition; read as the logs with filters."""

from __future__ import annotations

from datetime import datetime

from wirepost.domain import Event, Response, State
from wirepost.store import messages
from wirepost.store.db import Executor
from wirepost.store.filters import EventFilter
from wirepost.store.queries import Q

_LIST_LATEST_FIRST = Q["events.list_latest_first"]
_LIST_EARLIEST_FIRST = Q["events.list_earliest_first"]
_PRUNE = Q["events.prune"]


async def list_page(
    db: Executor, where: EventFilter, *, after: int | None, limit: int, latest_first: bool
) -> tuple[list[Event], int | None]:
    """One page of log entries and the cursor of the next page (None at the end)."""
    query = _LIST_LATEST_FIRST if latest_first else _LIST_EARLIEST_FIRST
    rows = await db.fetch(query, after, limit + 1, *where.args())
    page = [
        Event(
            id=r["event_id"],
            at=r["event_at"],
            state=State(r["event_state"]),
            message=messages.from_record(r),
            error=r["event_error"],
            next_delivery_at=r["next_delivery_at"],
            response=(
                Response(
                    r["response_status"], r["response_headers"] or {}, r["response_body"] or b""
                )
                if r["response_status"] is not None
                else None
            ),
        )
        for r in rows[:limit]
    ]
    return page, (page[-1].id if len(rows) > limit else None)


async def prune(db: Executor, *, before: datetime, limit: int) -> int:
    status = await db.execute(_PRUNE, before, limit)
    return int(status.split()[-1])
