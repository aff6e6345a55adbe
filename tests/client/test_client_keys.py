"""``keys``: read the signing keys; rotate them (on a server that keeps its keys in the
database)."""

from __future__ import annotations

import pytest

from tests.client.conftest import client_for
from tests.conftest import TEST_CURRENT_KEY, TEST_NEXT_KEY
from wirepost_client import SigningKeys, WirepostError


async def test_keys_get_returns_the_configured_pair(wp):
    assert await wp.keys.get() == SigningKeys(TEST_CURRENT_KEY, TEST_NEXT_KEY)


async def test_keys_rotate_promotes_next_and_makes_a_new_next(mode, make_api):
    api = await make_api(run_scheduler=False, current_signing_key=None, next_signing_key=None)
    async with client_for(mode, str(api.make_url("")).rstrip("/")) as wp:
        before = await wp.keys.get()
        after = await wp.keys.rotate()

        assert after.current == before.next
        assert after.next not in (before.current, before.next)
        assert after.next.startswith("sig_")
        assert await wp.keys.get() == after


async def test_keys_rotate_is_refused_when_keys_come_from_settings(wp):
    with pytest.raises(WirepostError) as caught:
        await wp.keys.rotate()

    assert caught.value.status == 409
    assert "WIREPOST_CURRENT_SIGNING_KEY" in caught.value.message
