"""The ``schedules`` table: cron schedules, each with the message template its ticks produce.

Create-or-overwrite (bounded in number), read with the live state of the last tick's messages,
pause/resume, delete; for the scheduler: lock due rows (``FOR UPDATE SKIP LOCKED``, inside the
caller's transaction) and record what a tick did. No cron math here: callers pass the times.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from wirepost.domain import Message, Schedule
from wirepost.store.db import Executor
from wirepost.store.queries import Q

_UPSERT = Q["schedules.upsert"]
_LIST_ALL = Q["schedules.list_all"]
_DELETE = Q["schedules.delete"]
_SET_PAUSED = Q["schedules.set_paused"]
_CLAIM_DUE = Q["schedules.claim_due"]
_RECORD_FIRE = Q["schedules.record_fire"]
_ADVANCE = Q["schedules.advance"]
_NEXT_DUE_AT = Q["schedules.next_due_at"]

IN_PROGRESS = "IN_PROGRESS"
"""The state a tick's message starts in (``lastScheduleStates``: IN_PROGRESS, SUCCESS, FAIL)."""


def _from_record(r: asyncpg.Record | Mapping[str, Any], states_column: str) -> Schedule:
    template = Message(
        id="",
        url="",
        method=r["method"],
        headers=r["headers"],
        body=r["body"],
        max_retries=r["max_retries"],
        not_before=r["created_at"],
        created_at=r["created_at"],
        retry_delay=r["retry_delay"],
        timeout_ms=r["timeout_ms"],
        caller_ip=r["caller_ip"],
        labels=tuple(r["labels"]),
        queue_name=r["queue_name"],
        schedule_id=r["id"],
        callback=r["callback"],
        callback_headers=r["callback_headers"],
        failure_callback=r["failure_callback"],
        failure_callback_headers=r["failure_callback_headers"],
        callback_options=r["callback_options"],
        flow_control_key=r["flow_control_key"],
        flow_control=r["flow_control"],
        redact=tuple(r["redact"]) if r["redact"] is not None else None,
    )
    return Schedule(
        id=r["id"],
        destination=r["destination"],
        cron=r["cron"],
        template=template,
        created_at=r["created_at"],
        next_fire_at=r["next_fire_at"],
        delay=timedelta(milliseconds=r["delay_ms"]),
        paused=r["paused"],
        last_fire_at=r["last_fire_at"],
        last_states=dict(r[states_column]),
        error=r["error"],
    )


async def upsert(db: Executor, schedule: Schedule, *, limit: int) -> bool:
    """Create ``schedule``, or overwrite the definition of the one with its id (its
    ``created_at``, pause state and last tick stay). False when it is new and ``limit``
    schedules already exist."""
    t = schedule.template
    stored = await db.fetchval(
        _UPSERT,
        schedule.id,
        schedule.destination,
        schedule.cron,
        t.method,
        t.headers,
        t.body,
        t.max_retries,
        t.retry_delay,
        t.timeout_ms,
        int(schedule.delay.total_seconds() * 1000),
        t.caller_ip,
        list(t.labels),
        t.queue_name,
        t.callback,
        t.callback_headers,
        t.failure_callback,
        t.failure_callback_headers,
        t.callback_options,
        t.flow_control_key,
        t.flow_control,
        list(t.redact) if t.redact is not None else None,
        schedule.created_at,
        schedule.next_fire_at,
        limit,
    )
    return stored is not None


async def find(db: Executor, schedule_id: str) -> Schedule | None:
    """The schedule, with the current state of each message its last tick produced."""
    row = await db.fetchrow(_LIST_ALL, schedule_id)
    return _from_record(row, "current_states") if row else None


async def list_all(db: Executor) -> list[Schedule]:
    """Every schedule, oldest first, with the current state of their last ticks' messages."""
    rows = await db.fetch(_LIST_ALL, None)
    return [_from_record(r, "current_states") for r in rows]


async def delete(db: Executor, schedule_id: str) -> bool:
    """Remove the schedule (messages it already produced stay); False if there was none."""
    return await db.fetchval(_DELETE, schedule_id) is not None


async def set_paused(db: Executor, schedule_id: str, *, paused: bool) -> bool:
    """Pause or resume (idempotent); False if there is no such schedule."""
    return await db.fetchval(_SET_PAUSED, schedule_id, paused) is not None


async def claim_due(db: Executor, *, now: datetime, limit: int) -> list[Schedule]:
    """Lock up to ``limit`` schedules due at ``now`` until the caller's transaction ends,
    skipping rows another worker holds. Paused ones are included (they only advance)."""
    rows = await db.fetch(_CLAIM_DUE, now, limit)
    return [_from_record(r, "last_states") for r in rows]


async def record_fire(
    db: Executor,
    schedule_id: str,
    *,
    next_fire_at: datetime,
    fired_at: datetime,
    message_ids: Sequence[str],
    error: str | None,
) -> None:
    """Record a tick: its messages (IN_PROGRESS until their log says otherwise), the error
    that kept some or all of them from being produced, and the next tick."""
    states = {message_id: IN_PROGRESS for message_id in message_ids}
    await db.execute(_RECORD_FIRE, schedule_id, next_fire_at, fired_at, states, error)


async def advance(db: Executor, schedule_id: str, *, next_fire_at: datetime) -> None:
    """Move to the next tick without firing (a paused schedule skips its ticks)."""
    await db.execute(_ADVANCE, schedule_id, next_fire_at)


async def next_due_at(db: Executor) -> datetime | None:
    due: datetime | None = await db.fetchval(_NEXT_DUE_AT)
    return due
