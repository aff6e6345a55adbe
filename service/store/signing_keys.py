"""The ``signing_keys`` table: the one current/next pair every replica signs with."""

from __future__ import annotations

from collections.abc import Callable

from wirepost.domain import SigningKeys
from wirepost.errors import NotFound
from wirepost.store.db import Executor
from wirepost.store.queries import Q

_FIND = Q["signing_keys.find"]
_INSERT_IF_MISSING = Q["signing_keys.insert_if_missing"]
_ROTATE = Q["signing_keys.rotate"]
_REPLACE = Q["signing_keys.replace"]


async def get(db: Executor) -> SigningKeys:
    row = await db.fetchrow(_FIND)
    if row is None:
        raise NotFound("no signing keys stored yet; start `wirepost serve` once to create them")
    return SigningKeys(row["current_key"], row["next_key"])


async def ensure(db: Executor, generate: Callable[[], str]) -> SigningKeys:
    """The stored pair, creating one on first start (replicas racing keep the first)."""
    await db.execute(_INSERT_IF_MISSING, generate(), generate())
    return await get(db)


async def replace(db: Executor, keys: SigningKeys) -> None:
    await db.execute(_REPLACE, keys.current, keys.next)


async def rotate(db: Executor, new_next: str) -> SigningKeys:
    row = await db.fetchrow(_ROTATE, new_next)
    if row is None:
        raise NotFound("no signing keys stored yet")
    return SigningKeys(row["current_key"], row["next_key"])
