"""Leases and cancellation: an attempt whose lease was lost records nothing, and a cancelled
message is neither delivered nor retried."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from tests.conftest import wait_until
from tests.delivery.outbox_state import available_at, dead_letters_of, states_of
from tests.receiver import Reply
from wirepost.domain import State
from wirepost.store import deliveries, messages


async def test_outcome_recorded_after_the_lease_was_lost_is_ignored(
    pool, clock, make_settings, receiver, make_loop, publish
):
    settings = make_settings(lease=timedelta(seconds=30))
    stale_worker = await make_loop(settings)
    live_worker = await make_loop(settings)
    # The stale worker's attempt succeeds, but only after its lease ran out and the live worker
    # claimed the message again and got a 500.
    receiver.replies.extend([Reply(200, b"late", delay=1.0), Reply(500, b"now")])
    message = await publish(receiver.url(), max_retries=3)

    stale = asyncio.create_task(stale_worker.run_once(clock.now()))
    await wait_until(lambda: len(receiver.requests) == 1)
    clock.advance(settings.lease + timedelta(seconds=1))
    assert await live_worker.run_once(clock.now()) == 1
    retry_at = await available_at(pool, message.id)
    assert await stale == 1

    assert await available_at(pool, message.id) == retry_at  # still waiting for its retry
    assert await states_of(pool, message.id) == [
        State.CREATED,
        State.ACTIVE,
        State.ACTIVE,
        State.ERROR,
        State.RETRY,
    ]
    assert await dead_letters_of(pool, message.id) == []


async def test_expired_lease_makes_the_message_due_again(
    pool, clock, make_settings, receiver, make_loop, publish
):
    settings = make_settings(lease=timedelta(seconds=30))
    loop = await make_loop(settings)
    message = await publish(receiver.url())
    # A worker claimed the message and died before sending anything.
    [claimed] = await deliveries.claim_due(pool, limit=10, lease=settings.lease, now=clock.now())
    assert claimed.message.id == message.id

    clock.advance(settings.lease - timedelta(seconds=1))
    assert await loop.run_once(clock.now()) == 0
    clock.advance(timedelta(seconds=1))
    assert await loop.run_once(clock.now()) == 1

    assert [r.headers["Upstash-Message-Id"] for r in receiver.requests] == [message.id]
    assert await available_at(pool, message.id) is None


async def test_cancelled_message_is_not_delivered(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    message = await publish(receiver.url())
    kept = await publish(receiver.url("/kept"))

    assert await messages.cancel_many(pool, [message.id], now=clock.now()) == [message.id]
    assert await loop.run_once(clock.now()) == 1

    assert [r.headers["Upstash-Message-Id"] for r in receiver.requests] == [kept.id]
    assert await states_of(pool, message.id) == [
        State.CREATED,
        State.CANCEL_REQUESTED,
        State.CANCELED,
    ]


async def test_message_cancelled_during_its_attempt_is_not_retried(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.default = Reply(500, delay=0.5)
    message = await publish(receiver.url(), max_retries=3)

    attempt = asyncio.create_task(loop.run_once(clock.now()))
    await wait_until(lambda: len(receiver.requests) == 1)
    assert await messages.cancel_many(pool, [message.id], now=clock.now()) == [message.id]
    await attempt

    assert await available_at(pool, message.id) is None
    assert await dead_letters_of(pool, message.id) == []
    assert State.RETRY not in await states_of(pool, message.id)
    clock.advance(timedelta(days=2))
    assert await loop.run_once(clock.now()) == 0
    assert len(receiver.requests) == 1
