"""``flow_control``: a key appears with its first message; get, list, pause, resume, pin,
unpin, reset_rate, and the global parallelism."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wirepost.config import Settings
from wirepost_client import FlowControl, WirepostError


@pytest.fixture
async def key(wp) -> str:
    limits = FlowControl("tenant-7", parallelism=3, rate=5, period="10s")
    await wp.publish("http://127.0.0.1:9/hook", "x", flow_control=limits, delay="1h")
    return limits.key


async def test_flow_control_get_and_list_show_the_keys_limits(wp, key):
    info = await wp.flow_control.get(key)
    found = await wp.flow_control.list(search="tenant")
    missing = await wp.flow_control.list(search="nobody")

    assert (info.key, info.parallelism_max, info.rate_max, info.rate_period) == (key, 3, 5, 10)
    assert not info.paused
    assert [i.key for i in found] == [key]
    assert missing == []


async def test_flow_control_pause_and_resume(wp, key):
    await wp.flow_control.pause(key)
    paused = await wp.flow_control.get(key)
    await wp.flow_control.resume(key)

    assert paused.paused
    assert not (await wp.flow_control.get(key)).paused


async def test_flow_control_pin_unpin_and_reset_rate(wp, key):
    await wp.flow_control.pin(key, parallelism=1, rate=2, period=timedelta(seconds=30))
    pinned = await wp.flow_control.get(key)
    await wp.flow_control.unpin(key, parallelism=True)
    half = await wp.flow_control.get(key)
    await wp.flow_control.reset_rate(key)

    assert (pinned.parallelism_max, pinned.rate_max, pinned.rate_period) == (1, 2, 30)
    assert (pinned.pinned_parallelism, pinned.pinned_rate) == (True, True)
    assert (half.pinned_parallelism, half.pinned_rate) == (False, True)
    assert (await wp.flow_control.get(key)).rate_count == 0


async def test_flow_control_unknown_key_is_a_404(wp):
    with pytest.raises(WirepostError) as caught:
        await wp.flow_control.pause("nobody")

    assert caught.value.status == 404


async def test_flow_control_global_parallelism_reports_the_servers_limit(wp):
    overall = await wp.flow_control.global_parallelism()

    assert overall.parallelism_max == Settings().delivery_concurrency  # the server's default
    assert overall.parallelism_count == 0
