"""Migrations that change data, applied to a database holding rows from before them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import pytest

from tests.conftest import dsn_with_database
from wirepost.domain import Claimed, Delivered, Response
from wirepost.store import db, migrate
from wirepost.store import deliveries as deliveries_store
from wirepost.store import events as events_store
from wirepost.store import messages as messages_store
from wirepost.store.filters import EventFilter
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
    """Apply the migrations not yet applied, up to ``version``."""
    await conn.execute(Q["migrations.create_table"])
    done = set(
        await conn.fetchval("SELECT coalesce(array_agg(version), '{}') FROM schema_migrations")
    )
    for migration in migrate.available():
        if migration.version <= version and migration.version not in done:
            await conn.execute(migration.path.read_text())
            await conn.execute(Q["migrations.record"], migration.version, migration.name)


async def _insert_message(
    conn: asyncpg.Connection, message_id: str, body: bytes = b"", at: datetime | None = None
) -> None:
    """A message row as any version of the schema holds it, created and due at ``at`` (now)."""
    await conn.execute(
        "INSERT INTO messages (id, url, method, headers, body, max_retries, not_before,"
        " created_at) VALUES ($1, 'http://127.0.0.1:9/', 'POST', '{}', $2, 3,"
        " coalesce($3, now()), coalesce($3, now()))",
        message_id,
        body,
        at,
    )


async def test_0006_fills_in_the_body_size_of_deliveries_already_waiting(blank_database):
    conn = blank_database
    await _apply_up_to(conn, 5)
    for message_id, body in (("msg_a", b"x" * 1234), ("msg_b", b"")):
        await _insert_message(conn, message_id, body)
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
        await _insert_message(conn, message_id, body)
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


MESSAGE_ID_COLUMNS = {
    ("messages", "id"),
    ("messages", "source_message_id"),
    ("deliveries", "message_id"),
    ("events", "message_id"),
    ("dead_letters", "message_id"),
    ("deduplication_keys", "key"),
    ("deduplication_keys", "message_id"),
}


async def test_0008_makes_message_ids_compare_bytewise_and_keeps_every_row_and_link(
    blank_database,
):
    conn = blank_database
    await _apply_up_to(conn, 7)
    for message_id in ("msg_b", "msg_B", "msg_a"):
        await _insert_message(conn, message_id)
        await conn.execute(
            "INSERT INTO deliveries (message_id, available_at) VALUES ($1, now())", message_id
        )
        await conn.execute(
            "INSERT INTO events (at, message_id, state) VALUES (now(), $1, 'CREATED')", message_id
        )

    await _apply_up_to(conn, 8)

    collations = {
        (r["table_name"], r["column_name"]): r["collation_name"]
        for r in await conn.fetch(
            "SELECT table_name, column_name, collation_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND (table_name, column_name) IN"
            " (SELECT * FROM unnest($1::text[], $2::text[]))",
            [table for table, _ in MESSAGE_ID_COLUMNS],
            [column for _, column in MESSAGE_ID_COLUMNS],
        )
    }
    assert collations == dict.fromkeys(MESSAGE_ID_COLUMNS, "C")
    # Byte order, whatever the database's locale: upper case before lower case.
    assert await conn.fetchval("SELECT array_agg(id ORDER BY id) FROM messages") == [
        "msg_B",
        "msg_a",
        "msg_b",
    ]
    assert (
        await conn.fetchval("SELECT count(*) FROM events e JOIN deliveries d USING (message_id)")
        == 3
    )
    # The foreign keys still hold: deleting a message still takes its delivery with it.
    await conn.execute("DELETE FROM messages WHERE id = 'msg_a'")
    assert await conn.fetchval("SELECT count(*) FROM deliveries") == 2
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await conn.execute(
            "INSERT INTO deliveries (message_id, available_at) VALUES ('msg_x', now())"
        )


async def test_0009_drops_the_deliveries_foreign_key_and_keeps_every_row(blank_database):
    conn = blank_database
    await _apply_up_to(conn, 8)
    now = await conn.fetchval("SELECT now()")
    await _insert_message(conn, "msg_kept", at=now)
    await conn.execute(
        "INSERT INTO deliveries (message_id, available_at) VALUES ('msg_kept', $1)", now
    )
    assert await _foreign_keys_of(conn, "deliveries") == ["deliveries_message_id_fkey"]

    applied = await migrate.migrate(conn)

    assert [m.version for m in applied][:1] == [9]
    assert await _foreign_keys_of(conn, "deliveries") == []
    assert await conn.fetchval("SELECT array_agg(message_id) FROM deliveries") == ["msg_kept"]
    # What the key guarded still holds: pruning never deletes a message with a delivery.
    assert await messages_store.prune(conn, before=now + timedelta(days=1), limit=10) == 0
    await conn.execute("DELETE FROM deliveries")
    assert await messages_store.prune(conn, before=now + timedelta(days=1), limit=10) == 1


async def _foreign_keys_of(conn: asyncpg.Connection, table: str) -> list[str]:
    return list(
        await conn.fetchval(
            "SELECT coalesce(array_agg(conname ORDER BY conname), '{}') FROM pg_constraint"
            " WHERE conrelid = $1::regclass AND contype = 'f'",
            table,
        )
    )


async def test_0010_an_attempt_claimed_before_it_is_logged_once(blank_database, pg_admin_dsn):
    # Claimed by a Wirepost from before 0010: its ACTIVE row is in events already, and the
    # delivery has no active_at; recording its outcome afterwards must not log ACTIVE again.
    conn = blank_database
    await _apply_up_to(conn, 9)
    now = await conn.fetchval("SELECT now()")
    await _insert_message(conn, "msg_old", at=now)
    await conn.execute(
        "INSERT INTO deliveries (message_id, available_at, leased, claims)"
        " VALUES ('msg_old', $1, true, 1)",
        now + timedelta(minutes=1),
    )
    await conn.execute(
        "INSERT INTO events (at, message_id, state) VALUES ($1, 'msg_old', 'CREATED'),"
        " ($1, 'msg_old', 'ACTIVE')",
        now,
    )

    await migrate.migrate(conn)

    name = await conn.fetchval("SELECT current_database()")
    wirepost_conn = await db.connect(dsn_with_database(pg_admin_dsn, name))
    try:
        message = await messages_store.find(wirepost_conn, "msg_old")
        assert message is not None
        await deliveries_store.complete_many(
            wirepost_conn,
            [(Claimed(message, 1, 0), Delivered(Response(200, {}, b"ok")))],
            now=now,
        )
        page, _ = await events_store.list_page(
            wirepost_conn,
            EventFilter(message_ids=["msg_old"]),
            after=None,
            limit=10,
            latest_first=False,
        )
    finally:
        await wirepost_conn.close()
    assert [e.state.value for e in page] == ["CREATED", "ACTIVE", "DELIVERED"]
