"""A new pool connection of a server runs the publish and delivery statements once, on nothing:
they are then prepared in its session, no row is written, and a locked table is not waited for."""

from __future__ import annotations

import asyncio

import asyncpg

from tests.api.conftest import count_rows
from wirepost.store import db
from wirepost.store.connections import prepare_hot_statements

TABLES = ("messages", "deliveries", "events", "dead_letters")


async def prepared_statements(conn: asyncpg.Connection) -> list[str]:
    rows = await conn.fetch("SELECT statement FROM pg_prepared_statements")
    return [r["statement"] for r in rows]


async def test_a_new_connection_holds_the_hot_statements_prepared_and_wrote_nothing(db_dsn):
    pool = await db.create_pool(db_dsn, min_size=1, max_size=1, prepare=prepare_hot_statements)
    try:
        async with pool.acquire() as conn:
            statements = await prepared_statements(conn)
        assert any("INSERT INTO messages" in s for s in statements)
        assert any("DELETE FROM deliveries" in s for s in statements)  # complete_many
        assert any("SKIP LOCKED" in s for s in statements)  # claim_due
        for table in TABLES:
            assert await count_rows(pool, table) == 0
    finally:
        await pool.close()


async def test_a_locked_table_is_not_waited_for(db_dsn):
    locker = await asyncpg.connect(db_dsn)
    await locker.execute("BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
    try:
        conn = await db.connect(db_dsn)
        try:
            await asyncio.wait_for(prepare_hot_statements(conn), timeout=10)
            assert not any("INSERT INTO messages" in s for s in await prepared_statements(conn))
            assert await conn.fetchval("SELECT 1") == 1  # usable: the failed transaction ended
        finally:
            await conn.close()
    finally:
        await locker.close()
