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


async def test_0007_marks_sizeless_deliveries_unknown_and_fills_in_old_replicas_zeros(
    blank_database,
):
    conn = blank_database
    await _apply_up_to(conn, 6)
    # Rows a replica from before 0006 inserted after it: no body_size, so the old default 0.
    for message_id, body in (("msg_a", b"x" * 1234), ("msg_b", b""), ("msg_c", b"y" * 10)):
        await conn.execute(
            "INSERT INTO messages (id, url, method, headers, body, max_retries, not_before,"
            " created_at) VALUES ($1, 'http://127.0.0.1:9/', 'POST', '{}', $2, 3, now(), now())",
            message_id,
            body,
        )
    for message_id in ("msg_a", "msg_b"):
        await conn.execute(
            "INSERT INTO deliveries (message_id, available_at) VALUES ($1, now())", message_id
        )

    applied = await migrate.migrate(conn)

    assert 7 in [m.version for m in applied]
    await conn.execute(
        "INSERT INTO deliveries (message_id, available_at) VALUES ('msg_c', now())"
    )  # such a replica still running after the migration
    sizes = dict(await conn.fetch("SELECT message_id, body_size FROM deliveries"))
    assert sizes == {"msg_a": 1234, "msg_b": 0, "msg_c": -1}
