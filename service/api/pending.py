"""Bounds the publishes this process holds while they wait for the database.

A publish holds its body and its messages in memory from the moment its body has arrived until
it is answered, which is after its commit. While Postgres is slow or stalled those commits wait,
and every client that keeps publishing adds to what the server holds: memory would grow with the
number of clients and the length of the stall. ``PendingPublishes`` counts the messages (batch
items; a publish to a URL group counts once) and body bytes of the publishes in that window and
refuses a new one that would take either past its limit with ``Overloaded`` (503 with
``Retry-After: 1``): nothing of it is stored, so the client may send it again as it is. A
publish is always admitted when none is pending, so one request larger than a limit still
goes through on its own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from wirepost.errors import Overloaded

logger = logging.getLogger(__name__)

MIB = 1024 * 1024


class PendingPublishes:
    def __init__(self, *, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self.messages = 0
        self.bytes = 0
        self._refused = 0  # publishes refused since the last one admitted

    @contextmanager
    def hold(self, messages: int, size: int) -> Iterator[None]:
        """Count ``messages`` and ``size`` body bytes as pending until the block ends; raises
        ``Overloaded`` instead when they do not fit beside those already pending."""
        if self.messages and (
            self.messages + messages > self.max_messages or self.bytes + size > self.max_bytes
        ):
            self._refuse()
        if self._refused:
            logger.info("publishes_admitted_again", extra={"refused": self._refused})
            self._refused = 0
        self.messages += messages
        self.bytes += size
        try:
            yield
        finally:
            self.messages -= messages
            self.bytes -= size

    def _refuse(self) -> None:
        if not self._refused:
            logger.warning(
                "publishes_refused",
                extra={"pending_messages": self.messages, "pending_bytes": self.bytes},
            )
        self._refused += 1
        raise Overloaded(
            f"{self.messages} messages ({self.bytes / MIB:.1f} MiB) are already waiting for the "
            "database to commit them, as many as this server holds (WIREPOST_MAX_PENDING_MESSAGES="
            f"{self.max_messages}, WIREPOST_MAX_PENDING_BYTES={self.max_bytes}); nothing was "
            "stored: send it again after the Retry-After seconds"
        )
