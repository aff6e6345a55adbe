"""Connection pool creation and the ``Executor`` protocol store functions accept.

An ``Executor`` is a pool or a connection (inside a transaction), so callers compose
transactions without store functions knowing. jsonb values are (de)serialised with orjson.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, Protocol

import asyncpg
import orjson

logger = logging.getLogger(__name__)

# Errors that mean "the database is not reachable right now" (as opposed to a bug in a query).
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
    # asyncpg's protocol state machine reports a connection broken mid-operation (seen while
    # Postgres shut down: "cannot switch to state 15; another operation is in progress").
    asyncpg.InternalClientError,
)


class Executor(Protocol):
    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str: ...

    async def fetch(
        self, query: str, *args: Any, timeout: float | None = None
    ) -> list[asyncpg.Record]: ...

    async def fetchrow(
        self, query: str, *args: Any, timeout: float | None = None
    ) -> asyncpg.Record | None: ...

    async def fetchval(
        self, query: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any: ...


Pool = asyncpg.Pool
Connection = asyncpg.Connection


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Pool release hook: nothing to undo. Wirepost never changes session state (no SET, no
    LISTEN on pooled connections), so asyncpg's default ``RESET ALL`` round trip per release is
    skipped; an open transaction is still rolled back by asyncpg itself."""


# Postgres caches a generic plan per prepared statement after a few executions and keeps it
# while a table grows. A plan made while the outbox held a handful of rows (a seq scan) then
# walks every waiting row on each claim once a backlog builds: measured 186 us of Postgres CPU
# per message instead of 38 with 20,000 waiting. Every Wirepost query is meant to run on an index,
# so sessions rule seq scans out wherever an index can serve, and the hot statements find their
# rows by `= ANY(array)` index conditions rather than joins (see sql/queries/deliveries.sql), so
# their cached plans stay on those indexes. Planning each execution instead (force_custom_plan)
# was as robust but took a fifth of a core at 1,000 publishes/s.
#
# JIT is off for the same sessions: ruling seq scans out adds a huge cost to the plan of a
# statement that can only scan (the few-row `gates` table, say), past Postgres's JIT thresholds,
# and it then compiled that statement with LLVM on every execution: 20-30 ms for
# `gates.any_open`, which every delivery loop runs once a second before a claim (measured on
# Debian's PostgreSQL 15, which ships JIT). No Wirepost statement touches enough rows to gain.
SESSION_SETTINGS = {"enable_seqscan": "off", "jit": "off"}

# The delivery loop claims on sessions of their own that keep one generic plan per statement.
# With plan_cache_mode `auto` Postgres planned the claim anew on every execution: a parameter
# LIMIT counts as a tenth of the rows in a generic plan's estimate, so with a backlog the generic
# plan always looks dearer than a custom one, which has the same shape (the available_at index,
# a TID scan, the messages primary key: tests/store/test_query_plans.py). Planning it took
# 0.16-0.33 ms of Postgres a claim, an eighth of the time of a claim of 400 (pg_stat_statements with
# track_planning, docs/benchmarks.md). The API's statements keep `auto`: their optional filters
# (`$n IS NULL OR ...`) need a custom plan to use an index.
GENERIC_PLAN_SESSION_SETTINGS = {**SESSION_SETTINGS, "plan_cache_mode": "force_generic_plan"}


async def create_pool(
    dsn: str,
    *,
    min_size: int = 2,
    max_size: int = 10,
    prepare: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
    generic_plans: bool = False,
) -> asyncpg.Pool:
    """A pool of ``min_size`` to ``max_size`` connections; ``prepare`` runs on each new one.
    ``generic_plans``: its sessions plan each prepared statement once (see
    ``GENERIC_PLAN_SESSION_SETTINGS``), for the delivery loop's claims only."""

    async def init(conn: asyncpg.Connection) -> None:
        await _init_connection(conn)
        if prepare is not None:
            await prepare(conn)

    pool = await asyncpg.create_pool(
        dsn,
        reset=_keep_session,
        min_size=min_size,
        max_size=max_size,
        init=init,
        command_timeout=60,
        server_settings=GENERIC_PLAN_SESSION_SETTINGS if generic_plans else SESSION_SETTINGS,
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


@contextlib.asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[Executor]:
    async with pool.acquire() as conn, conn.transaction():
        yield conn


def is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, CONNECTION_ERRORS)


# Errors that mean "Postgres text cannot hold this value" (a NUL character): bad client input.
UNSTORABLE_TEXT_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.CharacterNotInRepertoireError,
    asyncpg.UntranslatableCharacterError,
)


def is_unstorable_text(exc: BaseException) -> bool:
    return isinstance(exc, UNSTORABLE_TEXT_ERRORS)


async def listen(
    dsn: str, channels: Sequence[str], on_notify: Callable[[str, str], None]
) -> asyncpg.Connection:
    """A dedicated connection LISTENing on ``channels``; ``on_notify(channel, payload)`` on each
    NOTIFY."""
    conn = await connect(dsn)
    for channel in channels:
        await conn.add_listener(channel, lambda _c, _pid, ch, payload: on_notify(ch, payload))
    return conn
