"""Migrations that change data, applied to a database holding rows from before them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from tests.conftest import dsn_with_database
from wirepost.store import migrate
from wirepost.store.queries import Q


@pytest.fixture
async def blank_database(pg_admin_dsn: str) -> AsyncIterator[asyncpg.Connection]:
    """A connection to a new, empty database (no migration applied)."""
    name = f"wirepost_m_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(dsn_with_database(pg_admin_dsn, name))
    try:
        yield conn
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def _apply_up_to(conn: asyncpg.Connection, version: int) -> None:
    await conn.execute(Q["migrations.create_table"])
    for migration in migrate.available():
        if migration.version <= version:
            await conn.execute(migration.path.read_text())
            await conn.execute(Q["migrations.record"], migration.version, migration.name)


async def test_0006_fills_in_the_body_size_of_deliveries_already_waiting(blank_database):
    conn = blank_database
    await _apply_up_to(conn, 5)
    for message_id, body in (("msg_a", b"x" * 1234), ("msg_b", b"")):
        await conn.execute(
            "INSERT INTO messages (id, url, method, headers, body, max_retries, not_before,"
            " created_at) VALUES ($1, 'http://127.0.0.1:9/', 'POST', '{}', $2, 3, now(), now())",
            message_id,
            body,
        )
        await conn.execute(
            "INSERT INTO deliveries (message_id, available_at) VALUES ($1, now())", message_id
        )

    applied = await migrate.migrate(conn)

    assert 6 in [m.version for m in applied]
    sizes = dict(await conn.fetch("SELECT message_id, body_size FROM deliveries"))
    assert sizes == {"msg_a": 1234, "msg_b": 0}
