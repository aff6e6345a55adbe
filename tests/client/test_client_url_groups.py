"""``url_groups``: upsert and remove endpoints, get, list, delete."""

from __future__ import annotations

import pytest

from tests.client.conftest import unless_endpoint_missing
from wirepost_client import Endpoint, WirepostError

A = "http://127.0.0.1:9/a"
B = "http://127.0.0.1:9/b"
C = "http://127.0.0.1:9/c"


async def test_url_groups_upsert_get_and_list(wp):
    with unless_endpoint_missing("URL group"):
        await wp.url_groups.upsert_endpoints("g1", [Endpoint(A, "alpha"), B])
        await wp.url_groups.upsert_endpoints("g2", [C])
        group = await wp.url_groups.get("g1")
        groups = await wp.url_groups.list()

    assert group.name == "g1"
    assert sorted(group.endpoints, key=lambda e: e.url) == [Endpoint(A, "alpha"), Endpoint(B)]
    assert group.created_at <= group.updated_at
    assert sorted(g.name for g in groups) == ["g1", "g2"]


async def test_url_groups_remove_endpoints_by_url_and_name(wp):
    with unless_endpoint_missing("URL group"):
        await wp.url_groups.upsert_endpoints("g", [Endpoint(A, "alpha"), B, C])
        await wp.url_groups.remove_endpoints("g", urls=[B], names=["alpha"])
        group = await wp.url_groups.get("g")

    assert group.endpoints == (Endpoint(C),)


async def test_url_groups_delete_removes_the_group_and_is_quiet_when_missing(wp):
    with unless_endpoint_missing("URL group"):
        await wp.url_groups.upsert_endpoints("g", [A])
        await wp.url_groups.delete("g")
        await wp.url_groups.delete("g")
        with pytest.raises(WirepostError) as caught:
            await wp.url_groups.get("g")

    assert caught.value.status == 404


async def test_url_groups_refuse_bad_input_before_sending(wp):
    with pytest.raises(ValueError, match="non-empty list"):
        await wp.url_groups.upsert_endpoints("g", [])
    with pytest.raises(ValueError, match="urls and/or names"):
        await wp.url_groups.remove_endpoints("g")
