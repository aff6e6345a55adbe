"""A claim or a completion must touch a number of pages that grows with its batch, not with the
backlog, even when Postgres planned it while the outbox was empty.

Postgres keeps a prepared statement's generic plan once it has one, made from the statistics of
the moment. Planned against an empty outbox it walks every waiting row (a seq scan, or an index
scan filtered by a join condition) on each claim once a backlog builds. The store's sessions
(``db.SESSION_SETTINGS``) rule seq scans out, and the hot statements find rows by index
conditions, so their plans stay on indexes whenever they were made.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.factories import make_message
from wirepost.clock import FixedClock
from wirepost.store import db, deliveries, messages
from wirepost.store.queries import Q

BACKLOG = 20_000
BATCH = 10
LEASE = timedelta(seconds=30)


async def _fill(pool: asyncpg.Pool, now: datetime) -> None:
    for _ in range(BACKLOG // 2000):
        await messages.insert_many(pool, [make_message(now) for _ in range(2000)], now=now)


def _literal(value: Any) -> str:
    """SQL text for one EXECUTE argument (EXECUTE takes no bind parameters); test values only.
    Arrays are untyped literals so that Postgres reads them as the parameter's type."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "'{" + ",".join(_array_element(v) for v in value) + "}'"
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(int(value))


def _array_element(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return '"\\\\x' + value.hex() + '"'
    return '"' + str(value) + '"'


async def _execute(conn: asyncpg.Connection, statement: str, args: list[Any]) -> str:
    return await conn.execute(f"EXECUTE {statement}({', '.join(_literal(a) for a in args)})")


async def _pages_touched(conn: asyncpg.Connection, statement: str, args: list[Any]) -> int:
    """Shared buffers the prepared ``statement`` touches when run once (rolled back)."""
    arguments = ", ".join(_literal(a) for a in args)
    transaction = conn.transaction()
    await transaction.start()
    try:
        plan = await conn.fetchval(
            f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {statement}({arguments})"
        )
    finally:
        await transaction.rollback()
    top = json.loads(plan)[0]
    return int(top["Plan"]["Shared Hit Blocks"]) + int(top["Plan"]["Shared Read Blocks"])


async def _prepare_on_empty_outbox(conn: asyncpg.Connection, now: datetime) -> None:
    """Prepare the hot statements and run them often enough that Postgres would cache a generic
    plan, all while the outbox is empty."""
    await conn.execute("ANALYZE deliveries, messages, events")
    for name, sql in (
        ("claim", Q["deliveries.claim_due"]),
        ("complete", Q["deliveries.complete_many"]),
        ("complete_delivered", Q["deliveries.complete_delivered"]),
    ):
        await conn.execute(f"PREPARE {name} AS {sql}")
        for _ in range(8):
            args = (
                [now, BATCH, now + LEASE, deliveries.NO_BYTE_BUDGET]
                if name == "claim"
                else [now, [], "[]", [], True]
            )
            await _execute(conn, name, args)


async def _pages_per_claim_and_completion(
    dsn: str, pool: asyncpg.Pool, now: datetime, settings: dict[str, str]
) -> dict[str, int]:
    """Pages touched by a claim and by each completion statement (rolled back, same rows)."""
    conn = await asyncpg.connect(dsn, server_settings=settings)
    try:
        await _prepare_on_empty_outbox(conn, now)
        await _fill(pool, now)
        claim = await _pages_touched(
            conn, "claim", [now, BATCH, now + LEASE, deliveries.NO_BYTE_BUDGET]
        )
        claimed = await deliveries.claim_due(pool, limit=BATCH, lease=LEASE, now=now)
        outcomes = [[c.claims, "delivered", None, 200, None, None] for c in claimed]
        ids = [c.message.id for c in claimed]
        args = [now, ids, json.dumps(outcomes), [b"ok"] * len(claimed), True]
        pages = {"claim": claim}
        for name in ("complete", "complete_delivered"):
            pages[name] = await _pages_touched(conn, name, args)
        return pages
    finally:
        await conn.close()


@pytest.mark.parametrize(
    "settings",
    [db.SESSION_SETTINGS, db.GENERIC_PLAN_SESSION_SETTINGS],
    ids=["store sessions", "claim sessions"],
)
async def test_claims_and_completions_stay_proportional_to_their_batch(
    db_dsn, pool, clock: FixedClock, settings: dict[str, str]
):
    pages = await _pages_per_claim_and_completion(db_dsn, pool, clock.now(), settings)
    # About a dozen pages per row (index descents, heap, the log insert), nowhere near the
    # hundreds of pages that hold 20,000 waiting deliveries and their messages.
    assert max(pages.values()) < 40 * BATCH, pages


async def test_without_the_session_settings_a_plan_made_on_an_empty_outbox_scans_the_backlog(
    db_dsn, pool, clock: FixedClock
):
    """Why SESSION_SETTINGS exist (and proof that the test above can fail)."""
    # An autoanalyze of the filled tables would invalidate the plans made on the empty outbox
    # before they are measured (seen once in a full run of the suite): keep it out of this one.
    for table in ("messages", "deliveries", "events"):
        await pool.execute(f"ALTER TABLE {table} SET (autovacuum_enabled = false)")
    pages = await _pages_per_claim_and_completion(db_dsn, pool, clock.now(), {})
    assert max(pages.values()) > 40 * BATCH, pages


async def _jit_compiled(conn: asyncpg.Connection) -> bool:
    """Whether Postgres JIT-compiles `gates.any_open`, a statement that can only scan."""
    plan = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + Q["gates.any_open"])
    return "JIT" in json.loads(plan)[0]


async def test_store_sessions_never_jit_compile_a_statement(pool: asyncpg.Pool):
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT current_setting('jit')") == "off"
        assert not await _jit_compiled(conn)


async def test_ruling_seq_scans_out_with_jit_on_compiles_every_small_scan(db_dsn):
    """Why SESSION_SETTINGS turn JIT off: the cost added to a plan that must seq-scan passes the
    JIT thresholds, so each execution pays an LLVM compile (20-30 ms), however few rows."""
    settings = {**db.SESSION_SETTINGS, "jit": "on"}
    conn = await asyncpg.connect(db_dsn, server_settings=settings)
    try:
        if not await conn.fetchval("SELECT pg_jit_available()"):
            pytest.skip("this Postgres has no JIT provider (the embedded build ships none)")
        assert await _jit_compiled(conn)
    finally:
        await conn.close()


async def _claim_plans(pool: asyncpg.Pool) -> tuple[int, int]:
    """(generic, custom) plans made so far for the claim on the pool's one connection."""
    row = await pool.fetchrow(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
        Q["deliveries.claim_due"],
    )
    assert row is not None
    return row["generic_plans"], row["custom_plans"]


@pytest.mark.parametrize("generic_plans", [True, False])
async def test_a_claim_pool_plans_the_claim_once(
    db_dsn, pool, clock: FixedClock, generic_plans: bool
):
    """With a backlog Postgres `auto` plans the claim anew each time (a parameter LIMIT makes
    the generic plan look dearer); the delivery loop's claim pool keeps one plan."""
    now = clock.now()
    await messages.insert_many(pool, [make_message(now) for _ in range(500)], now=now)
    await pool.execute("ANALYZE deliveries, messages")
    claims = await db.create_pool(db_dsn, min_size=1, max_size=1, generic_plans=generic_plans)
    try:
        for _ in range(8):
            assert len(await deliveries.claim_due(claims, limit=BATCH, lease=LEASE, now=now))
        generic, custom = await _claim_plans(claims)
    finally:
        await claims.close()
    if generic_plans:
        assert (generic, custom) == (8, 0)
    else:
        assert custom == 8, (generic, custom)
