"""Fixtures for API tests: the real app (``build_app``) on aiohttp's test server, over a fresh
database, with a fixed clock and no delivery loop (nothing races the assertions).

One database serves the whole API session (per xdist worker), cloned once from the migrated
template; each test starts by deleting every row of every table but ``schema_migrations``.
Cloning a database per test (the suite default) costs 0.15-0.3 s, emptying it a few
milliseconds, and the API tests are many. The isolation is the same: every test starts from the
migrated, empty schema.

``raw_request`` sends a request target byte for byte (no re-encoding by yarl), as curl and the
SDKs do. ``dead_letter`` and ``fail_due`` make DLQ entries through the store, without deliveries.
"""

from __future__ import annotations

import asyncio
import graphlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from yarl import URL

from tests.conftest import TEST_TOKEN, dsn_with_database
from tests.factories import make_message
from wirepost.app import build_app
from wirepost.clock import FixedClock
from wirepost.domain import GiveUp, Message, Response
from wirepost.store import deliveries, messages

AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}
LEASE = timedelta(seconds=30)

MakeApi = Callable[..., Awaitable[TestClient[Any, Any]]]


async def _admin(admin_dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


# Each table with the tables whose foreign keys point at it.
_REFERENCED_BY = """
SELECT c.relname AS name,
       array_remove(array_agg(DISTINCT r.relname), NULL) AS children
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
LEFT JOIN pg_constraint k ON k.confrelid = c.oid AND k.contype = 'f' AND k.conrelid <> c.oid
LEFT JOIN pg_class r ON r.oid = k.conrelid
WHERE c.relkind IN ('r', 'p') AND c.relname <> 'schema_migrations'
GROUP BY c.relname
"""


async def _emptying_statement(dsn: str) -> str:
    """DELETEs for every table, referencing tables first (faster than TRUNCATE on tiny
    tables, and needs no superuser)."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(_REFERENCED_BY)
    finally:
        await conn.close()
    order = graphlib.TopologicalSorter({r["name"]: r["children"] for r in rows}).static_order()
    return "; ".join(f'DELETE FROM "{name}"' for name in order)  # noqa: S608 - catalog names


@pytest.fixture(scope="session")
def api_database(pg_admin_dsn: str, pg_template: str) -> Iterator[tuple[str, str]]:
    """One database for every API test of the session: its DSN and the statement emptying it."""
    name = f"wirepost_api_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_admin_dsn, f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"'))
    dsn = dsn_with_database(pg_admin_dsn, name)
    yield dsn, asyncio.run(_emptying_statement(dsn))
    asyncio.run(_admin(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def db_dsn(api_database: tuple[str, str]) -> str:
    """The session's API database, emptied (overrides the per-test clone of tests/conftest)."""
    dsn, empty = api_database
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(empty)
    finally:
        await conn.close()
    return dsn


@pytest.fixture
async def messages_locked(db_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A session holding the messages table locked: every insert waits until it rolls back."""
    conn = await asyncpg.connect(db_dsn)
    await conn.execute("BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
    try:
        yield conn  # the test ends the stall with ROLLBACK
    finally:
        await conn.close()  # rolls back whatever is still open


@pytest.fixture
def make_api(make_settings: Callable[..., Any], clock: FixedClock, aiohttp_client: Any) -> MakeApi:
    """``await make_api(**settings_overrides)``: a client for the app built from those settings
    (``run_delivery`` defaults to False). ``aiohttp_client`` comes after the database fixtures,
    so the app (and its pool) stops before the test database is dropped."""

    async def make(**overrides: Any) -> TestClient[Any, Any]:
        overrides.setdefault("run_delivery", False)
        return await aiohttp_client(build_app(make_settings(**overrides), clock=clock))

    return make


@pytest.fixture
async def api(make_api: MakeApi) -> TestClient[Any, Any]:
    return await make_api()


async def raw_request(
    client: TestClient[Any, Any],
    method: str,
    target: str,
    *,
    headers: Mapping[str, str] | None = None,
    data: bytes = b"",
) -> ClientResponse:
    """Send ``target`` (path and query) exactly as written, percent-escapes untouched."""
    base = str(client.make_url("/")).rstrip("/")
    return await client.session.request(
        method, URL(base + target, encoded=True), headers=headers, data=data
    )


async def publish(
    client: TestClient[Any, Any],
    destination: str,
    body: bytes = b'{"hello":"world"}',
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Publish through the API; asserts a 201 and returns the JSON answer."""
    response = await raw_request(
        client, "POST", "/v2/publish/" + destination, headers={**AUTH, **(headers or {})}, data=body
    )
    payload = await response.json()
    assert response.status == 201, payload
    return payload  # type: ignore[no-any-return]


async def fail_due(
    pool: asyncpg.Pool,
    now: datetime,
    *,
    status: int = 500,
    body: bytes = b"boom",
    headers: dict[str, list[str]] | None = None,
    error: str = "destination answered 500",
) -> list[str]:
    """Claim every due delivery and give up on it (each becomes a DLQ entry); returns ids."""
    claimed = await deliveries.claim_due(pool, limit=1000, lease=LEASE, now=now)
    response = Response(status, headers or {"Content-Type": ["text/plain"]}, body)
    outcomes = [(c, GiveUp(error, response)) for c in claimed]
    assert len(await deliveries.complete_many(pool, outcomes, now=now)) == len(claimed)
    return [c.message.id for c in claimed]


async def dead_letter(pool: asyncpg.Pool, now: datetime, **fields: Any) -> tuple[Message, int]:
    """Store a message and move it to the DLQ at ``now``; returns it and its DLQ id."""
    [(message, dlq_id)] = await dead_letters_for(pool, now, [fields])
    return message, dlq_id


async def dead_letters_for(
    pool: asyncpg.Pool, now: datetime, specs: Sequence[dict[str, Any]], **fail: Any
) -> list[tuple[Message, int]]:
    """One DLQ entry per field set in ``specs``, in that order (ascending DLQ ids)."""
    made = [make_message(now, **fields) for fields in specs]
    for message in made:  # one at a time so DLQ ids follow the order of ``specs``
        await messages.insert_many(pool, [message], now=now)
        assert await fail_due(pool, now, **fail) == [message.id]
    rows = await pool.fetch("SELECT id, message_id FROM dead_letters")
    ids = {r["message_id"]: r["id"] for r in rows}
    return [(m, ids[m.id]) for m in made]


async def count_rows(pool: asyncpg.Pool, table: str) -> int:
    assert table.isidentifier(), table
    return int(await pool.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
