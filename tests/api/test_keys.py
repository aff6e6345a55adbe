"""GET /v2/keys and POST /v2/keys/rotate (and the Go SDK's POST /v2/rotate)."""

from __future__ import annotations

import pytest

from tests.api.conftest import AUTH
from tests.conftest import TEST_CURRENT_KEY, TEST_NEXT_KEY
from wirepost.signing import SIGNING_KEY_PREFIX
from wirepost.store import signing_keys


async def keys_of(api) -> dict[str, str]:
    response = await api.get("/v2/keys", headers=AUTH)
    assert response.status == 200
    payload = await response.json()
    assert set(payload) == {"current", "next"}
    return payload  # type: ignore[no-any-return]


async def test_get_keys_shows_the_configured_pair(api):
    assert await keys_of(api) == {"current": TEST_CURRENT_KEY, "next": TEST_NEXT_KEY}


@pytest.mark.parametrize("path", ["/v2/keys/rotate", "/v2/rotate"])
async def test_rotate_is_409_when_keys_come_from_settings(api, pool, path):
    response = await api.post(path, headers=AUTH)
    assert response.status == 409
    payload = await response.json()
    assert set(payload) == {"error"}
    assert "WIREPOST_CURRENT_SIGNING_KEY" in payload["error"]
    stored = await signing_keys.get(pool)
    assert (stored.current, stored.next) == (TEST_CURRENT_KEY, TEST_NEXT_KEY)


async def test_stored_keys_are_generated_on_first_start(make_api, pool):
    api = await make_api(current_signing_key=None, next_signing_key=None)
    shown = await keys_of(api)
    stored = await signing_keys.get(pool)
    assert shown == {"current": stored.current, "next": stored.next}
    for key in shown.values():
        assert key.startswith(SIGNING_KEY_PREFIX)
        assert len(key.encode()) == 32
    assert shown["current"] != shown["next"]


@pytest.mark.parametrize("path", ["/v2/keys/rotate", "/v2/rotate"])
async def test_rotate_stored_keys_makes_next_current(make_api, pool, path):
    api = await make_api(current_signing_key=None, next_signing_key=None)
    before = await keys_of(api)
    response = await api.post(path, headers=AUTH)
    assert response.status == 200
    after = await response.json()
    assert set(after) == {"current", "next"}
    assert after["current"] == before["next"]
    assert after["next"] not in (before["current"], before["next"])
    assert after["next"].startswith(SIGNING_KEY_PREFIX)
    assert len(after["next"].encode()) == 32
    assert await keys_of(api) == after
    stored = await signing_keys.get(pool)
    assert (stored.current, stored.next) == (after["current"], after["next"])


async def test_rotate_twice_moves_along_the_chain(make_api):
    api = await make_api(current_signing_key=None, next_signing_key=None)
    first = await (await api.post("/v2/keys/rotate", headers=AUTH)).json()
    second = await (await api.post("/v2/keys/rotate", headers=AUTH)).json()
    assert second["current"] == first["next"]
    assert second["next"] != first["next"]


async def test_stored_keys_survive_a_restart(make_api):
    first = await make_api(current_signing_key=None, next_signing_key=None)
    rotated = await (await first.post("/v2/keys/rotate", headers=AUTH)).json()
    second = await make_api(current_signing_key=None, next_signing_key=None)
    assert await keys_of(second) == rotated
