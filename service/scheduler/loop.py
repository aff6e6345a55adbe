"""The schedule loop: turns due cron ticks into messages, exactly once per tick across replicas.

``run_once(now)`` locks due schedules with ``FOR UPDATE SKIP LOCKED`` and, in that same
transaction, inserts each tick's messages (one per URL-group endpoint, ``schedule_id`` set,
``Upstash-Delay`` added to the tick time, the queue name kept) and moves ``next_fire_at`` to the
first tick strictly after ``now``. A replica that runs at the same moment either skips the
locked rows or, once the lock is released, finds them no longer due, so a tick fires once however
many replicas run. ``run(stop)`` repeats that, sleeping until the next tick is due (at most the
poll interval, so schedules created elsewhere are seen), and backs off while the database is
away; it never exits before ``stop``.

Missed ticks fire once, not as a burst: after downtime (or a loop that fell behind) a schedule
whose ``next_fire_at`` lies several ticks in the past fires a single time, at once, and its next
tick is the first one after now. Example: ``*/5 * * * *`` with the service down from 10:02 to
10:31 fires once at 10:31 (for the ticks 10:05 … 10:30) and then at 10:35.

Paused schedules skip their ticks: they are advanced like the others but produce nothing, so
resuming never replays the ticks missed while paused. A tick that cannot produce a message (a
URL group that is gone or empty, a destination the SSRF policy now refuses, an unexpected
error) records ``error`` on the schedule and still advances; it never stops the loop. Each
schedule is fired inside a savepoint, so one failing schedule does not undo the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from yarl import URL

from wirepost import cron
from wirepost.clock import Clock
from wirepost.config import Settings
from wirepost.destination import DestinationPolicy
from wirepost.domain import Message, Schedule, new_id
from wirepost.loops import log_pass_error, sleep_or_stop
from wirepost.store import gates, messages, schedules, url_groups
from wirepost.store.db import Executor, Pool, is_connection_error
from wirepost.wakeup import Waker

logger = logging.getLogger(__name__)

CLAIM_BATCH = 100
MAX_ERROR_BACKOFF = 10.0
MIN_IDLE_SECONDS = 0.1
INVALID_CRON_RETRY = timedelta(hours=1)


class _Transactional(Executor, Protocol):
    """A connection that can open a (nested) transaction."""

    def transaction(self) -> contextlib.AbstractAsyncContextManager[Any]: ...


class ScheduleLoop:
    def __init__(
        self,
        settings: Settings,
        pool: Pool,
        clock: Clock,
        waker: Waker | None,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self._clock = clock
        self._waker = waker
        self._policy = DestinationPolicy.parse(settings.dev, settings.destination_allowlist)

    # -- one pass (tests) -------------------------------------------------------------------

    async def run_once(self, now: datetime | None = None) -> int:
        """Fire every schedule due at ``now``; returns how many ticks fired (ticks that
        produced no message included; paused skips and rows other replicas hold excluded)."""
        now = now or self._clock.now()
        fired = produced = 0
        while True:
            claimed, batch_fired, batch_produced = await self._fire_batch(now)
            fired += batch_fired
            produced += batch_produced
            if claimed < CLAIM_BATCH:
                break
        if produced and self._waker is not None:
            self._waker.wake()
        return fired

    async def _fire_batch(self, now: datetime) -> tuple[int, int, int]:
        """One transaction: lock up to CLAIM_BATCH due schedules, fire or skip each, advance
        them. Returns (claimed, fired, messages produced)."""
        done: list[tuple[Schedule, list[str], str | None, datetime]] = []
        async with self._pool.acquire() as conn, conn.transaction():
            due = await schedules.claim_due(conn, now=now, limit=CLAIM_BATCH)
            for schedule in due:
                next_at, error = _next_tick(schedule, now)
                if schedule.paused:
                    await schedules.advance(conn, schedule.id, next_fire_at=next_at)
                    continue
                ids: list[str] = []
                if error is None:
                    ids, error = await self._fire_in_savepoint(conn, schedule, now)
                await schedules.record_fire(
                    conn,
                    schedule.id,
                    next_fire_at=next_at,
                    fired_at=now,
                    message_ids=ids,
                    error=error,
                )
                done.append((schedule, ids, error, next_at))
        for schedule, ids, error, next_at in done:  # logged once committed
            _log_fire(schedule, ids, error, next_at)
        return len(due), len(done), sum(len(ids) for _, ids, _, _ in done)

    async def _fire_in_savepoint(
        self, conn: _Transactional, schedule: Schedule, now: datetime
    ) -> tuple[list[str], str | None]:
        """Fire one schedule; an unexpected error undoes only this schedule's inserts and
        becomes its ``error`` (a lost database aborts the whole batch instead)."""
        try:
            async with conn.transaction():
                return await self._fire(conn, schedule, now)
        except Exception as exc:
            if is_connection_error(exc):
                raise
            logger.exception("schedule_fire_failed", extra={"schedule_id": schedule.id})
            return [], f"internal error while firing ({type(exc).__name__}); see the logs"

    async def _fire(
        self, db: Executor, schedule: Schedule, now: datetime
    ) -> tuple[list[str], str | None]:
        targets, error = await self._targets(db, schedule)
        topic = None if _is_url(schedule.destination) else schedule.destination
        batch = [
            _message(schedule, url, now, topic_name=topic, endpoint_name=name)
            for url, name in targets
        ]
        if any(m.queue_name or m.flow_control_key for m in batch):
            await gates.prepare_for(db, batch, now=now)  # as publishing.publish does
        await messages.insert_many(db, batch, now=now)
        return [m.id for m in batch], error

    async def _targets(
        self, db: Executor, schedule: Schedule
    ) -> tuple[list[tuple[str, str | None]], str | None]:
        """(URL, endpoint name) pairs this tick goes to, and why some or all were left out."""
        if _is_url(schedule.destination):
            candidates: list[tuple[str, str | None]] = [(schedule.destination, None)]
        else:
            endpoints = await url_groups.find_endpoints(db, schedule.destination)
            if endpoints is None:
                return [], f"URL group {schedule.destination!r} does not exist"
            if not endpoints:
                return [], f"URL group {schedule.destination!r} has no endpoints"
            candidates = [(e.url, e.name) for e in endpoints]
        allowed, refused = [], []
        for url, name in candidates:
            reason = self._refusal(url)
            if reason is None:
                allowed.append((url, name))
            else:
                refused.append(reason)
        return allowed, "; ".join(refused) or None

    def _refusal(self, url: str) -> str | None:
        """Why the destination policy (as configured now) refuses ``url``, if it does."""
        try:
            self._policy.check_host(URL(url, encoded=True).host or "")
        except ValueError as exc:
            return f"destination {url!r} refused: {exc}"
        return None

    # -- the long-running loop ----------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                await self.run_once()
                wait = await self._idle_seconds()
                backoff = 0.5
            except Exception as exc:
                log_pass_error(logger, "schedule_loop_error", exc)
                wait = backoff
                backoff = min(backoff * 2, MAX_ERROR_BACKOFF)
            await sleep_or_stop(stop, wait)

    async def _idle_seconds(self) -> float:
        """Until the earliest tick, at most the poll interval; a tick still due (another
        replica holds it right now) is looked at again after ``MIN_IDLE_SECONDS``."""
        poll = self._settings.poll_interval.total_seconds()
        due = await schedules.next_due_at(self._pool)
        if due is None:
            return poll
        return min(poll, max(MIN_IDLE_SECONDS, (due - self._clock.now()).total_seconds()))


def _is_url(destination: str) -> bool:
    return destination.lower().startswith(("http://", "https://"))


def _next_tick(schedule: Schedule, now: datetime) -> tuple[datetime, str | None]:
    """The first tick strictly after ``now``; a cron that no longer parses (e.g. its time zone
    left the system's database) is retried later, with the reason as the error."""
    try:
        return cron.next_fire(cron.parse_cron(schedule.cron), now), None
    except ValueError as exc:
        return now + INVALID_CRON_RETRY, f"cron can no longer be evaluated: {exc}"


def _message(
    schedule: Schedule,
    url: str,
    now: datetime,
    *,
    topic_name: str | None,
    endpoint_name: str | None,
) -> Message:
    return replace(
        schedule.template,
        id=new_id("msg_"),
        url=url,
        not_before=now + schedule.delay,
        created_at=now,
        schedule_id=schedule.id,
        topic_name=topic_name,
        endpoint_name=endpoint_name,
        dedup_id=None,
    )


def _log_fire(schedule: Schedule, ids: list[str], error: str | None, next_at: datetime) -> None:
    extra = {"schedule_id": schedule.id, "messages": len(ids), "next_fire_at": next_at.isoformat()}
    if error is None:
        logger.info("schedule_fired", extra=extra)
    else:
        logger.warning("schedule_fire_incomplete", extra={**extra, "error": error})
