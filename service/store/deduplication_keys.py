"""The ``deduplication_keys`` table: remembers deduplication ids for the dedup window."""

from __future__ import annotations

from datetime import datetime

from wirepost.store.db import Executor
from wirepost.store.queries import Q

_CLAIM = Q["deduplication_keys.claim"]
_PRUNE = Q["deduplication_keys.prune"]
_OWNER = Q["deduplication_keys.owner"]


async def claim(
    db: Executor, key: str, message_id: str, *, expires_at: datetime, now: datetime
) -> str:
    """Take ``key`` for ``message_id``; returns the owner (another id means a duplicate).

    Call inside the transaction that inserts the message, so a rollback frees the key.
    """
    owner: str | None = await db.fetchval(_CLAIM, key, message_id, expires_at, now)
    if owner is None:  # a concurrent publish committed the key after our snapshot was taken
        owner = await db.fetchval(_OWNER, key)
    assert owner is not None
    return owner


async def prune(db: Executor, *, before: datetime, limit: int) -> int:
    status = await db.execute(_PRUNE, before, limit)
    return int(status.split()[-1])
