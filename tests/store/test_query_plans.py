"""The hot statements' cached plans must stay on indexes whatever the tables held when Postgres
made them: a plan cached while the outbox was empty must not scan a whole backlog later.

Postgres switches a prepared statement to its generic plan after a few executions and keeps it
while a table grows; ``plan_cache_mode = force_generic_plan`` shows that plan at once.
"""

from __future__ import annotations

import re

import asyncpg
import pytest

from wirepost.store import db
from wirepost.store.queries import Q

HOT_STATEMENTS = [
    "deliveries.claim_due",
    "deliveries.complete_many",
    "deliveries.extend_leases",
    "messages.insert_many",
]


async def _generic_plan(dsn: str, statement: str, settings: dict[str, str]) -> str:
    conn = await asyncpg.connect(
        dsn, server_settings={**settings, "plan_cache_mode": "force_generic_plan"}
    )
    try:
        sql = Q[statement]
        count = max(int(n) for n in re.findall(r"\$(\d+)", sql))
        await conn.execute(f"PREPARE hot AS {sql}")
        rows = await conn.fetch(f"EXPLAIN EXECUTE hot({', '.join(['NULL'] * count)})")
        return "\n".join(r[0] for r in rows)
    finally:
        await conn.close()


@pytest.mark.parametrize("statement", HOT_STATEMENTS)
async def test_generic_plans_of_hot_statements_never_scan_a_whole_table(db_dsn, statement):
    plan = await _generic_plan(db_dsn, statement, db.SESSION_SETTINGS)
    assert "Seq Scan on" not in plan, plan


async def test_without_the_session_settings_the_claim_would_scan_the_outbox(db_dsn):
    """The reason for SESSION_SETTINGS: on an empty table Postgres plans seq scans."""
    plan = await _generic_plan(db_dsn, "deliveries.claim_due", {})
    assert "Seq Scan on deliveries" in plan, plan
