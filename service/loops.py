"""What every background loop (delivery, schedules, retention, wake-ups) shares: sleeping until
a deadline or the stop signal, waiting for either of two events, and logging a failed pass so
that a lost database is one warning line while a bug keeps its traceback."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from wirepost.store.db import is_connection_error

MAX_ERROR_BACKOFF = 10.0


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def wait_any(stop: asyncio.Event, other: asyncio.Event, timeout: float | None) -> None:
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(other.wait())]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def log_pass_error(logger: logging.Logger, event: str, exc: BaseException) -> None:
    """``database_unavailable`` (warning, no traceback) or ``event`` with the traceback."""
    if is_connection_error(exc):
        logger.warning("database_unavailable", extra={"error": type(exc).__name__})
    else:
        logger.exception(event)
