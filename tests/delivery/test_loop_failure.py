"""DeliveryLoop.run_once when a message fails for good: non-retryable 489, exhausted retries,
no HTTP answer at all (refused connection, timeout), a redirect; what the DLQ keeps."""

from __future__ import annotations

import socket
from datetime import timedelta

from tests.delivery.outbox_state import available_at, dead_letters_of, states_of
from tests.receiver import Reply
from wirepost.domain import State

FAILED_AT_ONCE = [State.CREATED, State.ACTIVE, State.ERROR, State.FAILED]


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_489_with_nonretryable_header_goes_to_the_dlq_at_once(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.replies.append(
        Reply(489, b"payload rejected", headers={"Upstash-NonRetryable-Error": "true"})
    )
    message = await publish(receiver.url(), max_retries=5)

    await loop.run_once(clock.now())

    assert await available_at(pool, message.id) is None
    [entry] = await dead_letters_of(pool, message.id)
    assert entry.response.status == 489
    assert entry.response.body == b"payload rejected"
    assert await states_of(pool, message.id) == FAILED_AT_ONCE
    assert len(receiver.requests) == 1


async def test_489_without_the_header_is_an_ordinary_failure(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.replies.append(Reply(489, b"maybe later"))
    message = await publish(receiver.url(), max_retries=5)

    await loop.run_once(clock.now())

    assert await available_at(pool, message.id) is not None
    assert await dead_letters_of(pool, message.id) == []


async def test_exhausted_retries_leave_a_dlq_entry_with_the_last_response(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.replies.extend(
        [Reply(500, b"first"), Reply(502, b"last words", headers={"X-Reason": "upstream"})]
    )
    message = await publish(receiver.url(), max_retries=1)

    assert await loop.run_once(clock.now()) == 1
    assert await dead_letters_of(pool, message.id) == []
    clock.advance(timedelta(seconds=13))
    assert await loop.run_once(clock.now()) == 1

    assert await available_at(pool, message.id) is None
    [entry] = await dead_letters_of(pool, message.id)
    assert entry.message.id == message.id
    assert entry.response.status == 502
    assert entry.response.body == b"last words"
    assert entry.response.headers["X-Reason"] == ["upstream"]
    assert await states_of(pool, message.id) == [
        State.CREATED,
        State.ACTIVE,
        State.ERROR,
        State.RETRY,
        State.ACTIVE,
        State.ERROR,
        State.FAILED,
    ]
    clock.advance(timedelta(days=2))
    assert await loop.run_once(clock.now()) == 0
    assert len(receiver.requests) == 2


async def test_connection_refused_is_retried_then_dead_lettered_with_status_0(
    pool, clock, settings, make_loop, publish
):
    loop = await make_loop(settings)
    message = await publish(f"http://127.0.0.1:{closed_port()}/hook", max_retries=1)

    await loop.run_once(clock.now())
    assert await available_at(pool, message.id) is not None
    clock.advance(timedelta(seconds=13))
    await loop.run_once(clock.now())

    [entry] = await dead_letters_of(pool, message.id)
    assert entry.response.status == 0
    assert entry.error is not None
    assert "connect" in entry.error


async def test_timeout_is_retried_then_dead_lettered_with_status_0(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.default = Reply(200, delay=3)
    message = await publish(receiver.url(), max_retries=1, timeout_ms=1000)

    await loop.run_once(clock.now())
    assert await available_at(pool, message.id) is not None
    clock.advance(timedelta(seconds=13))
    await loop.run_once(clock.now())

    assert len(receiver.requests) == 2
    [entry] = await dead_letters_of(pool, message.id)
    assert entry.response.status == 0
    assert entry.error is not None
    assert "timeout" in entry.error


async def test_redirect_is_not_followed_and_counts_as_a_failure(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.replies.append(Reply(302, b"", headers={"Location": receiver.url("/elsewhere")}))
    message = await publish(receiver.url("/hook"), max_retries=0)

    await loop.run_once(clock.now())

    assert [r.path for r in receiver.requests] == ["/hook"]
    [entry] = await dead_letters_of(pool, message.id)
    assert entry.response.status == 302
    assert entry.response.headers["Location"] == [receiver.url("/elsewhere")]


async def test_response_body_is_stored_up_to_the_limit(
    pool, clock, make_settings, receiver, make_loop, publish
):
    loop = await make_loop(make_settings(response_body_limit=16))
    receiver.default = Reply(500, b"0123456789abcdef-and-much-more" * 100)
    message = await publish(receiver.url(), max_retries=0)

    await loop.run_once(clock.now())

    [entry] = await dead_letters_of(pool, message.id)
    assert entry.response.body == b"0123456789abcdef"
    logged = await pool.fetchval(
        "SELECT response_body FROM events WHERE message_id = $1 AND state = 'ERROR'", message.id
    )
    assert logged == b"0123456789abcdef"
