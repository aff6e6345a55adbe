"""The url_groups store against real Postgres: upsert, remove (group dropped when empty), find,
list, delete, and the per-group endpoint limit."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from wirepost.clock import FixedClock
from wirepost.domain import Endpoint
from wirepost.errors import LimitExceeded, NotFound
from wirepost.store import url_groups

A = "https://a.example.com/hook"
B = "https://b.example.com/hook"
C = "https://c.example.com/hook"


async def test_upsert_endpoints_creates_the_group_with_endpoints_in_order(pool, clock):
    await url_groups.upsert_endpoints(
        pool, "g", [Endpoint(B, "bee"), Endpoint(A)], now=clock.now(), max_endpoints=10
    )
    group = await url_groups.find(pool, "g")
    assert group is not None
    assert group.name == "g"
    assert group.created_at == group.updated_at == clock.now()
    assert group.endpoints == (Endpoint(B, "bee"), Endpoint(A, None))


async def test_upsert_endpoints_keeps_place_and_replaces_only_given_names(pool, clock: FixedClock):
    created = clock.now()
    await url_groups.upsert_endpoints(
        pool, "g", [Endpoint(A, "first"), Endpoint(B, "second")], now=created, max_endpoints=10
    )
    later = clock.advance(timedelta(minutes=1))
    await url_groups.upsert_endpoints(
        pool,
        "g",
        [Endpoint(C), Endpoint(B, "renamed"), Endpoint(A)],
        now=later,
        max_endpoints=10,
    )
    group = await url_groups.get(pool, "g")
    assert group.endpoints == (Endpoint(A, "first"), Endpoint(B, "renamed"), Endpoint(C))
    assert group.created_at == created
    assert group.updated_at == later


async def test_upsert_endpoints_with_a_repeated_url_keeps_the_last(pool, clock):
    await url_groups.upsert_endpoints(
        pool, "g", [Endpoint(A, "one"), Endpoint(A, "two")], now=clock.now(), max_endpoints=10
    )
    assert await url_groups.find_endpoints(pool, "g") == [Endpoint(A, "two")]


async def test_upsert_endpoints_over_the_limit_raises_and_changes_nothing(pool, clock):
    await url_groups.upsert_endpoints(pool, "g", [Endpoint(A)], now=clock.now(), max_endpoints=2)
    with pytest.raises(LimitExceeded, match="at most 2"):
        await url_groups.upsert_endpoints(
            pool, "g", [Endpoint(B), Endpoint(C)], now=clock.now(), max_endpoints=2
        )
    assert await url_groups.find_endpoints(pool, "g") == [Endpoint(A)]
    with pytest.raises(LimitExceeded):
        await url_groups.upsert_endpoints(
            pool, "new", [Endpoint(A), Endpoint(B), Endpoint(C)], now=clock.now(), max_endpoints=2
        )
    assert await url_groups.find(pool, "new") is None


async def test_upsert_endpoints_counts_existing_urls_once_against_the_limit(pool, clock):
    await url_groups.upsert_endpoints(
        pool, "g", [Endpoint(A), Endpoint(B)], now=clock.now(), max_endpoints=2
    )
    await url_groups.upsert_endpoints(
        pool, "g", [Endpoint(A, "x"), Endpoint(B, "y")], now=clock.now(), max_endpoints=2
    )
    assert await url_groups.find_endpoints(pool, "g") == [Endpoint(A, "x"), Endpoint(B, "y")]


async def test_concurrent_upserts_to_one_group_respect_the_limit(pool, clock):
    await url_groups.upsert_endpoints(pool, "g", [Endpoint(A)], now=clock.now(), max_endpoints=2)
    results = await asyncio.gather(
        url_groups.upsert_endpoints(pool, "g", [Endpoint(B)], now=clock.now(), max_endpoints=2),
        url_groups.upsert_endpoints(pool, "g", [Endpoint(C)], now=clock.now(), max_endpoints=2),
        return_exceptions=True,
    )
    assert sum(isinstance(r, LimitExceeded) for r in results) == 1
    assert len(await url_groups.find_endpoints(pool, "g") or []) == 2


async def test_remove_endpoints_by_url_or_name_and_touches_the_group(pool, clock: FixedClock):
    await url_groups.upsert_endpoints(
        pool,
        "g",
        [Endpoint(A, "a"), Endpoint(B, "b"), Endpoint(C, "c")],
        now=clock.now(),
        max_endpoints=10,
    )
    later = clock.advance(timedelta(seconds=5))
    removed = await url_groups.remove_endpoints(pool, "g", urls=[A], names=["c"], now=later)
    assert removed == 2
    group = await url_groups.get(pool, "g")
    assert group.endpoints == (Endpoint(B, "b"),)
    assert group.updated_at == later


async def test_remove_endpoints_matching_nothing_changes_nothing(pool, clock: FixedClock):
    await url_groups.upsert_endpoints(pool, "g", [Endpoint(A)], now=clock.now(), max_endpoints=10)
    before = await url_groups.get(pool, "g")
    clock.advance(timedelta(seconds=5))
    assert await url_groups.remove_endpoints(pool, "g", urls=[B], names=["x"], now=clock.now()) == 0
    assert await url_groups.get(pool, "g") == before


async def test_removing_the_last_endpoint_deletes_the_group(pool, clock):
    await url_groups.upsert_endpoints(
        pool, "g", [Endpoint(A, "a"), Endpoint(B)], now=clock.now(), max_endpoints=10
    )
    await url_groups.remove_endpoints(pool, "g", urls=[B], names=["a"], now=clock.now())
    assert await url_groups.find(pool, "g") is None
    assert await url_groups.find_endpoints(pool, "g") is None


async def test_remove_endpoints_of_an_unknown_group_raises_not_found(pool, clock):
    with pytest.raises(NotFound, match="no URL group nope"):
        await url_groups.remove_endpoints(pool, "nope", urls=[A], names=[], now=clock.now())


async def test_find_endpoints_is_none_for_an_unknown_group(pool):
    assert await url_groups.find_endpoints(pool, "nope") is None
    with pytest.raises(NotFound):
        await url_groups.get(pool, "nope")


async def test_list_all_returns_every_group_by_name(pool, clock):
    await url_groups.upsert_endpoints(pool, "zeta", [Endpoint(A)], now=clock.now(), max_endpoints=9)
    await url_groups.upsert_endpoints(
        pool, "alpha", [Endpoint(B), Endpoint(C, "c")], now=clock.now(), max_endpoints=9
    )
    groups = await url_groups.list_all(pool)
    assert [g.name for g in groups] == ["alpha", "zeta"]
    assert groups[0].endpoints == (Endpoint(B), Endpoint(C, "c"))
    assert groups[1].endpoints == (Endpoint(A),)


async def test_list_all_is_empty_without_groups(pool):
    assert await url_groups.list_all(pool) == []


async def test_delete_removes_the_group_and_its_endpoints(pool, clock):
    await url_groups.upsert_endpoints(
        pool, "g", [Endpoint(A), Endpoint(B)], now=clock.now(), max_endpoints=10
    )
    assert await url_groups.delete(pool, "g") is True
    assert await url_groups.find(pool, "g") is None
    assert await pool.fetchval("SELECT count(*) FROM url_group_endpoints") == 0
    assert await url_groups.delete(pool, "g") is False


async def test_same_url_may_belong_to_several_groups(pool, clock):
    await url_groups.upsert_endpoints(
        pool, "g1", [Endpoint(A, "x")], now=clock.now(), max_endpoints=9
    )
    await url_groups.upsert_endpoints(
        pool, "g2", [Endpoint(A, "y")], now=clock.now(), max_endpoints=9
    )
    await url_groups.remove_endpoints(pool, "g1", urls=[A], names=[], now=clock.now())
    assert await url_groups.find_endpoints(pool, "g2") == [Endpoint(A, "y")]
