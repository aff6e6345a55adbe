"""Enforces history retention: events and finished messages older than WIREPOST_RETENTION,
DLQ entries older than WIREPOST_DLQ_RETENTION, expired deduplication keys. Deletes in small
batches so it never holds long locks; any replica may run it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from wirepost.clock import Clock
from wirepost.config import Settings
from wirepost.loops import log_pass_error, sleep_or_stop
from wirepost.store import dead_letters, deduplication_keys, events, messages
from wirepost.store.db import Pool

logger = logging.getLogger(__name__)

BATCH = 1000
PERIOD_SECONDS = 60.0


class RetentionLoop:
    def __init__(self, settings: Settings, pool: Pool, clock: Clock) -> None:
        self._settings = settings
        self._pool = pool
        self._clock = clock

    async def run_once(self, now: datetime | None = None) -> int:
        """Prune everything past retention; returns how many rows were deleted."""
        now = now or self._clock.now()
        history = now - self._settings.retention
        steps: list[Callable[[], Awaitable[int]]] = [
            lambda: events.prune(self._pool, before=history, limit=BATCH),
            lambda: dead_letters.prune(
                self._pool, before=now - self._settings.dlq_retention, limit=BATCH
            ),
            lambda: messages.prune(self._pool, before=history, limit=BATCH),
            lambda: deduplication_keys.prune(self._pool, before=now, limit=BATCH),
        ]
        total = 0
        for step in steps:
            while (deleted := await step()) > 0:
                total += deleted
                if deleted < BATCH:
                    break
        if total:
            logger.info("retention_pruned", extra={"rows": total})
        return total

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception as exc:
                log_pass_error(logger, "retention_failed", exc)
            await sleep_or_stop(stop, PERIOD_SECONDS)
