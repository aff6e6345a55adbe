"""Wakes delivery loops when new work commits: this process's loop at once, other replicas
through a debounced Postgres NOTIFY (at most one per ``interval``), so a burst of publishes costs
a handful of notifications, not one each. Loops also poll, so a lost wake-up only delays work.
"""

from __future__ import annotations

import asyncio
import logging

from wirepost.store import deliveries
from wirepost.store.db import Pool, is_connection_error

logger = logging.getLogger(__name__)


class Waker:
    def __init__(self, *, interval: float = 0.005) -> None:
        self.local = asyncio.Event()
        self._remote = asyncio.Event()
        self._interval = interval

    def wake(self) -> None:
        self.local.set()
        self._remote.set()

    async def run(self, pool: Pool, stop: asyncio.Event) -> None:
        """Forward wake-ups to other replicas until ``stop`` is set."""
        while not stop.is_set():
            waiter = asyncio.ensure_future(self._remote.wait())
            stopper = asyncio.ensure_future(stop.wait())
            await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            stopper.cancel()
            if stop.is_set():
                return
            self._remote.clear()
            try:
                await deliveries.notify(pool)
            except Exception as exc:
                if not is_connection_error(exc):
                    logger.exception("notify_failed")
                await asyncio.sleep(0.5)  # the database is away; pollers will catch up
            await asyncio.sleep(self._interval)
