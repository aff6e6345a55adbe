"""Bounds the publishes this process holds while they wait for the database.

A publish holds its body and its messages in memory from the moment it arrives until it is
answered, which is after its commit. While Postgres is slow or stalled those commits wait, and
every request that arrives adds to what the server holds (aiohttp does not cancel a handler
whose client gave up): memory would grow with the arrival rate and the length of the stall.
``PendingPublishes`` counts the messages (batch items; a publish to a URL group counts once) and
body bytes of the publishes in that window and refuses one that would take either past its
limit with ``Overloaded`` (503 with ``Retry-After: 1``): nothing of it is stored, so the client
may send it again as it is. A publish is admitted on its declared ``Content-Length`` before its
body is read, so a refused body is not read into memory, and re-checked once its body and item
count are known. A publish is always admitted when no other is pending, so one request larger
than a limit still goes through on its own.
"""

from __future__ import annotations

import logging
from types import TracebackType

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

    def hold(self, messages: int, size: int) -> Held:
        """``with pending.hold(messages, size) as held:`` counts them as pending until the block
        ends; raises ``Overloaded`` instead when they do not fit beside those already pending."""
        return Held(self, messages, size)

    def _admit(self, messages: int, size: int, *, replacing: tuple[int, int] = (0, 0)) -> None:
        others = self.messages - replacing[0], self.bytes - replacing[1]
        if others[0] and (
            others[0] + messages > self.max_messages or others[1] + size > self.max_bytes
        ):
            self._refuse(*others)
        if self._refused:
            logger.info("publishes_admitted_again", extra={"refused": self._refused})
            self._refused = 0
        self.messages = others[0] + messages
        self.bytes = others[1] + size

    def _release(self, messages: int, size: int) -> None:
        self.messages -= messages
        self.bytes -= size

    def _refuse(self, messages: int, size: int) -> None:
        if not self._refused:
            logger.warning(
                "publishes_refused", extra={"pending_messages": messages, "pending_bytes": size}
            )
        self._refused += 1
        raise Overloaded(
            f"{messages} messages ({size / MIB:.1f} MiB) are already waiting for the database to "
            "commit them, as many as this server holds (WIREPOST_MAX_PENDING_MESSAGES="
            f"{self.max_messages}, WIREPOST_MAX_PENDING_BYTES={self.max_bytes}); nothing was "
            "stored: send it again after the Retry-After seconds"
        )


class Held:
    """One publish's share of ``PendingPublishes``, from ``__enter__`` to ``__exit__``."""

    def __init__(self, pending: PendingPublishes, messages: int, size: int) -> None:
        self._pending = pending
        self._amounts = messages, size

    def __enter__(self) -> Held:
        self._pending._admit(*self._amounts)
        return self

    def resize(self, messages: int, size: int) -> None:
        """Hold ``messages`` and ``size`` instead (once the body is read and its items counted);
        raises ``Overloaded`` when they do not fit, and then the block still releases the old
        amounts."""
        self._pending._admit(messages, size, replacing=self._amounts)
        self._amounts = messages, size

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._pending._release(*self._amounts)
