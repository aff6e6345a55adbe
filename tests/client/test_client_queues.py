"""``queues``: upsert, get, list, pause, resume, delete."""

from __future__ import annotations

import pytest

from wirepost_client import WirepostError


async def test_queues_upsert_get_and_list(wp):
    await wp.queues.upsert("orders", parallelism=3, paused=True)
    await wp.queues.upsert("emails")

    orders = await wp.queues.get("orders")
    queues = await wp.queues.list()

    assert (orders.name, orders.parallelism, orders.paused, orders.lag) == ("orders", 3, True, 0)
    assert sorted((q.name, q.parallelism) for q in queues) == [("emails", 1), ("orders", 3)]


async def test_queues_pause_and_resume(wp):
    await wp.queues.upsert("q")

    await wp.queues.pause("q")
    paused = await wp.queues.get("q")
    await wp.queues.resume("q")

    assert paused.paused
    assert not (await wp.queues.get("q")).paused


async def test_queues_delete_cancels_waiting_messages(wp):
    published = await wp.enqueue("q", "http://127.0.0.1:9/hook", "x")

    await wp.queues.delete("q")

    with pytest.raises(WirepostError) as caught:
        await wp.queues.get("q")
    assert caught.value.status == 404
    states = {e.state for e in await wp.events.iterate(message_id=published.message_id)}
    assert "CANCELED" in states


async def test_queues_refuse_a_bad_parallelism_with_the_servers_reason(wp):
    with pytest.raises(WirepostError) as caught:
        await wp.queues.upsert("q", parallelism=0)

    assert caught.value.status == 400
    assert "parallelism" in caught.value.message
