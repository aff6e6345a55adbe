"""Wakes delivery loops when new work commits: this process's loop at once, other replicas
through a debounced Postgres NOTIFY (at most one per ``interval``), so a burst of publishes costs
a handful of notifications, not one each. Loops also poll, so a lost wake-up only delays work.

Each notification carries the waker's ``origin``, so the loop of the same process, already woken,
skips it: answering its own echo cost a second claim and a due-time query per publish at low rates
(at 100 publishes/s, 3,909 claims for 2,000 messages).
"""

from __future__ import annotations

import asyncio
import logging

from wirepost.entropy import random_bytes
from wirepost.store import deliveries
from wirepost.store.db import Pool, is_connection_error

logger = logging.getLogger(__name__)


class Waker:
    def __init__(self, *, interval: float = 0.005) -> None:
        self.local = asyncio.Event()
        self.origin = random_bytes(8).hex()  # names this process's notifications
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
                await deliveries.notify(pool, origin=self.origin)
            except Exception as exc:
                if not is_connection_error(exc):
                    logger.exception("notify_failed")
                await asyncio.sleep(0.5)  # the database is away; pollers will catch up
            await asyncio.sleep(self._interval)
