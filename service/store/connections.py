"""Readies each new pool connection of a server: the statements of every publish and delivery
prepared before the first request needs them.

asyncpg prepares a statement on a connection the first time that connection runs it: for the
insert of a publish, 13-18 ms on the 2-core benchmark machine. A server that had just started
opened its pool connections and prepared these statements while the first publishes waited on
them: the first second of 1,000 publishes/s saw a publish p99 of 40-58 ms, the seconds after it
8-10. Each new connection therefore runs them once, on no rows (nothing is written), and keeps
them in its statement cache. A table locked by someone else (a migration, say) is not waited
for: the statements are then prepared by their first real use, as before.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import asyncpg

from wirepost.store import deliveries, messages
from wirepost.store.queries import Q

logger = logging.getLogger(__name__)

_BOUND_LOCK_WAITS = Q["connections.bound_lock_waits"]


async def prepare_hot_statements(conn: asyncpg.Connection) -> None:
    """Run each hot statement once on ``conn`` with nothing to act on."""
    now = datetime.now(UTC)
    try:
        async with conn.transaction():
            await conn.execute(_BOUND_LOCK_WAITS)
            await messages.prepare_insert(conn, now=now)
            await deliveries.prepare_claim_and_complete(conn, now=now)
    except asyncpg.LockNotAvailableError:
        logger.info("statements_not_prepared", extra={"reason": "a table is locked"})
