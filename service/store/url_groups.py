"""The ``url_groups`` and ``url_group_endpoints`` tables: named sets of endpoint URLs.

A group exists exactly while it has endpoints: ``upsert_endpoints`` creates it, removing its
last endpoint deletes it. Changes to one group are serialised by locking its row. Validating
names and URLs is the caller's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from wirepost.domain import Endpoint, UrlGroup
from wirepost.errors import LimitExceeded, NotFound
from wirepost.store.db import Executor, Pool, transaction
from wirepost.store.queries import Q

_LOCK_OR_CREATE = Q["url_groups.lock_or_create"]
_LOCK = Q["url_groups.lock"]
_UPSERT_ENDPOINTS = Q["url_groups.upsert_endpoints"]
_COUNT_ENDPOINTS = Q["url_groups.count_endpoints"]
_REMOVE_ENDPOINTS = Q["url_groups.remove_endpoints"]
_DELETE_IF_EMPTY = Q["url_groups.delete_if_empty"]
_TOUCH = Q["url_groups.touch"]
_FIND = Q["url_groups.find"]
_LIST_ALL = Q["url_groups.list_all"]
_DELETE = Q["url_groups.delete"]


def from_record(r: asyncpg.Record | Mapping[str, Any]) -> UrlGroup:
    return UrlGroup(
        name=r["name"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        endpoints=tuple(Endpoint(e["url"], e["name"]) for e in r["endpoints"]),
    )


def _last_per_url(endpoints: Sequence[Endpoint]) -> list[Endpoint]:
    """One endpoint per URL (the last one given wins), in first-seen order."""
    by_url: dict[str, Endpoint] = {}
    for endpoint in endpoints:
        by_url[endpoint.url] = endpoint
    return list(by_url.values())


async def upsert_endpoints(
    pool: Pool, name: str, endpoints: Sequence[Endpoint], *, now: datetime, max_endpoints: int
) -> None:
    """Create group ``name`` if needed and add ``endpoints`` to it (an endpoint already there
    keeps its place; a given name replaces its name). Raises LimitExceeded, changing nothing,
    when the group would hold more than ``max_endpoints``."""
    unique = _last_per_url(endpoints)
    async with transaction(pool) as conn:
        await conn.execute(_LOCK_OR_CREATE, name, now)
        await conn.execute(
            _UPSERT_ENDPOINTS, name, [e.url for e in unique], [e.name for e in unique]
        )
        total = await conn.fetchval(_COUNT_ENDPOINTS, name)
        if total > max_endpoints:
            raise LimitExceeded(
                f"URL group {name} would have {total} endpoints; at most {max_endpoints} "
                "are allowed: remove some first or use another group"
            )


async def remove_endpoints(
    pool: Pool, name: str, *, urls: Sequence[str], names: Sequence[str], now: datetime
) -> int:
    """Remove the endpoints of group ``name`` whose URL is in ``urls`` or whose name is in
    ``names``; the group is deleted when none is left. Returns how many were removed; raises
    NotFound when there is no such group."""
    async with transaction(pool) as conn:
        if await conn.fetchval(_LOCK, name) is None:
            raise NotFound(f"no URL group {name}")
        removed = await conn.fetch(_REMOVE_ENDPOINTS, name, list(urls), list(names))
        if removed and await conn.fetchval(_DELETE_IF_EMPTY, name) is None:
            await conn.execute(_TOUCH, name, now)
    return len(removed)


async def find(db: Executor, name: str) -> UrlGroup | None:
    row = await db.fetchrow(_FIND, name)
    return from_record(row) if row else None


async def get(db: Executor, name: str) -> UrlGroup:
    group = await find(db, name)
    if group is None:
        raise NotFound(f"no URL group {name}")
    return group


async def find_endpoints(db: Executor, name: str) -> list[Endpoint] | None:
    """The endpoints of group ``name`` in the order they were added; None if no such group."""
    group = await find(db, name)
    return list(group.endpoints) if group is not None else None


async def list_all(db: Executor) -> list[UrlGroup]:
    return [from_record(r) for r in await db.fetch(_LIST_ALL)]


async def delete(db: Executor, name: str) -> bool:
    """Delete group ``name`` with its endpoints; False when it did not exist."""
    return await db.fetchval(_DELETE, name) is not None
