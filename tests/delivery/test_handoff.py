"""Hand-off: a publish committed through group commit while this process's delivery loop runs
with free slots and no backlog is stored already claimed by that loop, which sends it without a
claim and without a wake-up. Slots are reserved while the insert runs and given back if it
fails; a stopped loop takes nothing; a hand-off that is never sent comes due when its lease
ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from tests.conftest import wait_until
from tests.delivery.outbox_state import states_of, wait_recorded
from tests.delivery.test_loop_run import LONG_POLL, settle
from tests.factories import make_message
from tests.receiver import Reply
from wirepost import publishing
from wirepost.delivery.loop import DeliveryLoop
from wirepost.domain import Handoff, State
from wirepost.group_commit import GroupCommit
from wirepost.store import messages
from wirepost.wakeup import Waker

DEDUP_WINDOW = timedelta(minutes=10)


@pytest.fixture
async def running() -> AsyncIterator[list[tuple[DeliveryLoop, asyncio.Event, asyncio.Task[None]]]]:
    """Loops started with ``running.append((loop, stop, task))`` are stopped after the test."""
    loops: list[tuple[DeliveryLoop, asyncio.Event, asyncio.Task[None]]] = []
    yield loops
    for _, stop, task in loops:
        stop.set()
        await asyncio.wait_for(task, timeout=15)


def start(loop: DeliveryLoop, running: list) -> asyncio.Event:
    stop = asyncio.Event()
    running.append((loop, stop, asyncio.create_task(loop.run(stop))))
    return stop


async def test_a_publish_is_sent_by_the_loop_it_was_handed_to_without_a_claim(
    pool, clock, make_settings, receiver, make_loop, running
):
    # The loop polls once a minute and is never woken: only the hand-off can deliver at once.
    loop = await make_loop(make_settings(poll_interval=LONG_POLL), wake=asyncio.Event())
    start(loop, running)
    await settle(pool)
    waker = Waker()
    message = make_message(clock.now(), url=receiver.url())
    await publishing.publish(
        pool,
        [message],
        now=clock.now(),
        dedup_window=DEDUP_WINDOW,
        waker=waker,
        group=GroupCommit(pool, taker=loop),
    )
    assert not waker.local.is_set()  # nothing left for a claim to find
    await wait_until(lambda: receiver.requests, timeout=5)
    [request] = receiver.requests
    assert request.headers["Upstash-Message-Id"] == message.id
    assert request.headers["Upstash-Retried"] == "0"

    await wait_recorded(pool, message.id)
    assert await states_of(pool, message.id) == [State.CREATED, State.ACTIVE, State.DELIVERED]


async def test_offer_takes_due_ungated_messages_up_to_the_free_slots(
    pool, clock, make_settings, make_loop, running
):
    loop = await make_loop(make_settings(delivery_concurrency=2))
    now = clock.now()
    due = [make_message(now) for _ in range(3)]
    later = make_message(now, not_before=now + timedelta(hours=1))
    queued = make_message(now, queue_name="q")
    assert loop.offer(due, now) is None  # not running yet
    stop = start(loop, running)
    await settle(pool)
    first = loop.offer([later, queued, *due], now)
    assert first is not None
    assert first.messages == due[:2]
    assert first.until == now + timedelta(seconds=30)  # the lease, as a claim would set it
    assert loop.offer(due[2:], now) is None  # both slots reserved
    loop.release(first)  # the insert failed
    second = loop.offer(due[2:], now)
    assert second is not None
    assert second.messages == due[2:]
    loop.release(second)
    stop.set()
    assert loop.offer(due, now) is None  # stopping


async def test_a_failed_insert_gives_the_slots_back(
    pool: asyncpg.Pool, clock, make_settings, make_loop, running
):
    loop = await make_loop(make_settings(delivery_concurrency=1))
    start(loop, running)
    await settle(pool)
    group = GroupCommit(pool, taker=loop)
    bad = make_message(clock.now(), url="http://127.0.0.1/\x00")  # Postgres refuses the NUL
    with pytest.raises(asyncpg.PostgresError):
        await group.insert([bad], now=clock.now())
    again = loop.offer([make_message(clock.now())], clock.now())
    assert again is not None
    loop.release(again)


async def test_no_hand_off_while_the_loop_is_behind_a_backlog(
    pool, clock, make_settings, receiver, make_loop, running
):
    # 30 due messages, 10 slots, claims of 4: the loop fills its slots (its last claim full)
    # and, with one slot free, waits for a second (claims go in pairs at least). A new publish
    # must not take that slot ahead of the 20 still waiting.
    now = clock.now()
    await messages.insert_many(
        pool, [make_message(now, url=receiver.url()) for _ in range(30)], now=now
    )
    receiver.replies.append(Reply(200, delay=0.2))
    receiver.default = Reply(200, delay=2.0)
    loop = await make_loop(make_settings(delivery_concurrency=10, delivery_batch_size=4))
    start(loop, running)
    await wait_until(lambda: len(receiver.requests) == 10, timeout=5)
    await wait_until(lambda: receiver.in_flight == 9, timeout=5)
    await asyncio.sleep(0.1)
    assert len(receiver.requests) == 10  # the loop waits for a second free slot
    assert loop.offer([make_message(now, url=receiver.url())], now) is None


async def test_stopping_waits_for_a_hand_off_whose_insert_is_running_and_sends_it(
    pool, clock, make_settings, receiver, make_loop, running
):
    loop = await make_loop(make_settings(poll_interval=LONG_POLL), wake=asyncio.Event())
    stop = start(loop, running)
    await settle(pool)
    message = make_message(clock.now(), url=receiver.url())
    handoff = loop.offer([message], clock.now())
    assert handoff is not None
    stop.set()
    await asyncio.sleep(0.2)
    task = running[-1][2]
    assert not task.done()  # the loop waits for the insert in flight
    await messages.insert_many(pool, [message], now=clock.now(), handoff=handoff)
    await loop.take(handoff)
    await asyncio.wait_for(task, timeout=5)
    assert [r.headers["Upstash-Message-Id"] for r in receiver.requests] == [message.id]
    assert await states_of(pool, message.id) == [State.CREATED, State.ACTIVE, State.DELIVERED]


async def test_a_hand_off_whose_insert_outlasted_half_the_lease_is_left_to_a_claim(
    pool, clock, make_settings, receiver, make_loop, running
):
    # The insert took 20 of the lease's 30 s (a stalled database): the renewer might not extend
    # the lease in time, so the loop does not send it from the hand-off; a claim does, once.
    settings = make_settings(poll_interval=timedelta(milliseconds=50))
    loop = await make_loop(settings, wake=asyncio.Event())
    start(loop, running)
    await settle(pool)
    message = make_message(clock.now(), url=receiver.url())
    handoff = loop.offer([message], clock.now())
    assert handoff is not None
    await messages.insert_many(pool, [message], now=clock.now(), handoff=handoff)
    clock.advance(timedelta(seconds=20))
    await loop.take(handoff)
    await asyncio.sleep(0.3)
    assert receiver.requests == []  # not sent from the hand-off; not due to a claim yet
    clock.advance(timedelta(seconds=10))  # the lease ends
    await wait_until(lambda: receiver.requests, timeout=5)
    await asyncio.sleep(0.3)
    assert [r.headers["Upstash-Message-Id"] for r in receiver.requests] == [message.id]

    await wait_recorded(pool, message.id)
    assert await states_of(pool, message.id) == [
        State.CREATED,
        State.ACTIVE,
        State.ACTIVE,
        State.DELIVERED,
    ]


async def test_a_hand_off_left_by_a_dead_process_is_delivered_when_its_lease_ends(
    pool, clock, make_settings, receiver, make_loop
):
    # A process stored the message claimed for itself and died before sending it.
    settings = make_settings()
    message = make_message(clock.now(), url=receiver.url())
    handoff = Handoff([message], clock.now() + settings.lease)
    await messages.insert_many(pool, [message], now=clock.now(), handoff=handoff)
    loop = await make_loop(settings)
    assert await loop.run_once(clock.now()) == 0
    clock.advance(settings.lease)
    assert await loop.run_once(clock.now()) == 1
    [request] = receiver.requests
    assert request.headers["Upstash-Message-Id"] == message.id
    assert await states_of(pool, message.id) == [
        State.CREATED,
        State.ACTIVE,
        State.ACTIVE,
        State.DELIVERED,
    ]
