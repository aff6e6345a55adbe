"""``messages``: get, cancel, cancel_many, cancel_all against the real server."""

from __future__ import annotations

import pytest

from wirepost_client import WirepostError

HOOK = "http://127.0.0.1:9/hook"


async def pending(wp, count: int) -> list[str]:
    """Message ids waiting for delivery (an hour's delay keeps them waiting)."""
    return [(await wp.publish(HOOK, f"m{i}", delay="1h")).message_id for i in range(count)]


async def test_messages_get_returns_the_typed_message(wp, clock):
    [message_id] = await pending(wp, 1)

    message = await wp.messages.get(message_id)

    assert message.message_id == message_id
    assert message.body == b"m0"
    assert message.max_retries == 3
    assert message.created_at.tzinfo is not None
    assert abs((message.created_at - clock.now()).total_seconds()) < 0.001


async def test_messages_cancel_cancels_once_then_answers_404(wp):
    [message_id] = await pending(wp, 1)

    assert await wp.messages.cancel(message_id) == 1
    with pytest.raises(WirepostError) as caught:
        await wp.messages.cancel(message_id)

    assert caught.value.status == 404
    assert message_id in caught.value.message


async def test_messages_cancel_many_counts_only_waiting_messages(wp):
    ids = await pending(wp, 3)

    assert await wp.messages.cancel_many([ids[0], ids[1], "msg_unknown"]) == 2
    assert await wp.messages.cancel_many([]) == 0
    assert await wp.messages.cancel_all() == 1
    assert await wp.messages.cancel_all() == 0


async def test_messages_refuse_an_empty_id_instead_of_addressing_every_message(wp):
    await pending(wp, 1)

    with pytest.raises(ValueError, match="message_id must not be empty"):
        await wp.messages.cancel("")
    with pytest.raises(ValueError, match="list of ids"):
        await wp.messages.cancel_many("msg_1")
    assert await wp.messages.cancel_all() == 1  # the message was still waiting
