"""DeliveryLoop.run_once with a failing receiver: when the next attempt comes due (default
backoff, the message's Upstash-Retry-Delay expression, the destination's Retry-After). The clock
is moved, never slept through."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.delivery.outbox_state import available_at, dead_letters_of, states_of
from tests.receiver import Reply
from wirepost.domain import State


def _assert_close(actual: datetime | None, expected: datetime) -> None:
    assert actual is not None, "the delivery left the outbox instead of waiting for a retry"
    assert abs(actual - expected) < timedelta(milliseconds=5), (actual, expected)


async def test_5xx_is_retried_after_the_default_backoff(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.default = Reply(503, b"busy")
    message = await publish(receiver.url(), max_retries=3)
    failed_at = clock.now()

    assert await loop.run_once(clock.now()) == 1

    # e^2.5 = 12.18 s after the first failure.
    _assert_close(await available_at(pool, message.id), failed_at + timedelta(seconds=12.1825))
    assert await states_of(pool, message.id) == [
        State.CREATED,
        State.ACTIVE,
        State.ERROR,
        State.RETRY,
    ]
    clock.advance(timedelta(seconds=11))
    assert await loop.run_once(clock.now()) == 0
    assert len(receiver.requests) == 1
    clock.advance(timedelta(seconds=2))
    assert await loop.run_once(clock.now()) == 1
    assert [r.headers["Upstash-Retried"] for r in receiver.requests] == ["0", "1"]
    # e^5 = 148.41 s after the second failure.
    _assert_close(await available_at(pool, message.id), clock.now() + timedelta(seconds=148.4132))
    assert await dead_letters_of(pool, message.id) == []


async def test_retry_delay_expression_replaces_the_backoff(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.default = Reply(500)
    message = await publish(receiver.url(), max_retries=3, retry_delay="1000 * (1 + retried)")

    await loop.run_once(clock.now())
    _assert_close(await available_at(pool, message.id), clock.now() + timedelta(seconds=1))
    clock.advance(timedelta(milliseconds=999))
    assert await loop.run_once(clock.now()) == 0
    clock.advance(timedelta(milliseconds=1))
    assert await loop.run_once(clock.now()) == 1
    # retried = 1 before the second retry: 2 s.
    _assert_close(await available_at(pool, message.id), clock.now() + timedelta(seconds=2))
    assert [r.headers["Upstash-Retried"] for r in receiver.requests] == ["0", "1"]


async def test_retry_after_header_sets_the_next_attempt(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.replies.append(Reply(429, b"slow down", headers={"Retry-After": "30"}))
    # The destination's answer wins over the message's own expression.
    message = await publish(receiver.url(), max_retries=3, retry_delay="1000")

    await loop.run_once(clock.now())

    _assert_close(await available_at(pool, message.id), clock.now() + timedelta(seconds=30))
    clock.advance(timedelta(seconds=29))
    assert await loop.run_once(clock.now()) == 0
    clock.advance(timedelta(seconds=2))
    assert await loop.run_once(clock.now()) == 1
    assert await available_at(pool, message.id) is None
    assert (await states_of(pool, message.id))[-1] == State.DELIVERED


async def test_x_ratelimit_reset_header_sets_the_next_attempt(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.replies.append(Reply(429, headers={"X-RateLimit-Reset": "45"}))
    message = await publish(receiver.url(), max_retries=3)

    await loop.run_once(clock.now())

    _assert_close(await available_at(pool, message.id), clock.now() + timedelta(seconds=45))


async def test_retry_after_beyond_one_day_falls_back_to_the_backoff(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.replies.append(Reply(503, headers={"Retry-After": "172800"}))
    message = await publish(receiver.url(), max_retries=3)

    await loop.run_once(clock.now())

    _assert_close(await available_at(pool, message.id), clock.now() + timedelta(seconds=12.1825))
