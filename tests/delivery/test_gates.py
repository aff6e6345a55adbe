"""Queues and flow-control keys: parked deliveries admitted in order within their limits."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import asyncpg

from tests.delivery.conftest import MakeLoop, Publish
from tests.receiver import Receiver, Reply
from wirepost.clock import FixedClock
from wirepost.config import Settings
from wirepost.store import db as store_db
from wirepost.store import gates


def _paths(receiver: Receiver) -> list[str]:
    return [r.path for r in receiver.requests]


async def test_queue_with_parallelism_one_delivers_in_enqueue_order(
    settings: Settings, make_loop: MakeLoop, publish: Publish, receiver: Receiver
):
    loop = await make_loop(settings)
    for n in range(3):
        await publish(receiver.url(f"/q{n}"), queue_name="orders")
    for n in range(3):
        assert await loop.run_once() == 1
        assert _paths(receiver) == [f"/q{i}" for i in range(n + 1)]
    assert await loop.run_once() == 0


async def test_queue_keeps_its_slot_while_the_head_waits_for_a_retry(
    settings: Settings,
    make_loop: MakeLoop,
    publish: Publish,
    receiver: Receiver,
    clock: FixedClock,
):
    loop = await make_loop(settings)
    await publish(receiver.url("/first"), queue_name="q")
    await publish(receiver.url("/second"), queue_name="q")
    receiver.replies.append(Reply(status=503))
    assert await loop.run_once() == 1  # /first fails, retry in ~12 s
    clock.advance(timedelta(seconds=5))
    assert await loop.run_once() == 0  # /second must not overtake
    clock.advance(timedelta(seconds=10))
    assert await loop.run_once() == 1  # /first again, delivered
    assert await loop.run_once() == 1
    assert _paths(receiver) == ["/first", "/first", "/second"]


async def test_queue_parallelism_holds_across_two_replicas(
    make_settings,
    make_loop: MakeLoop,
    publish: Publish,
    receiver: Receiver,
    db_dsn: str,
    pool: asyncpg.Pool,
):
    settings = make_settings(delivery_batch_size=10)
    await gates.upsert_queue(
        pool, "wide", parallelism=2, paused=False, now=(await pool.fetchval("SELECT now()"))
    )
    receiver.default = Reply(delay=0.3)
    for n in range(6):
        await publish(receiver.url(f"/w{n}"), queue_name="wide")
    other_pool = await store_db.create_pool(db_dsn, min_size=1, max_size=3)
    try:
        first = await make_loop(settings)
        second_loop = await make_loop(settings)
        second_loop._pool = other_pool  # a second replica: its own connections
        for _ in range(3):
            counts = await asyncio.gather(first.run_once(), second_loop.run_once())
            assert sum(counts) <= 2
    finally:
        await other_pool.close()
    assert receiver.max_in_flight == 2
    assert sorted(_paths(receiver)) == [f"/w{n}" for n in range(6)]


async def test_paused_queue_delivers_nothing_until_resumed(
    settings: Settings,
    make_loop: MakeLoop,
    publish: Publish,
    receiver: Receiver,
    pool: asyncpg.Pool,
    clock: FixedClock,
):
    loop = await make_loop(settings)
    await gates.upsert_queue(pool, "p", parallelism=1, paused=True, now=clock.now())
    await publish(receiver.url("/held"), queue_name="p")
    assert await loop.run_once() == 0
    await gates.set_paused(pool, gates.QUEUE, "p", paused=False, now=clock.now())
    assert await loop.run_once() == 1


async def test_flow_control_parallelism_limits_messages_in_flight(
    make_settings,
    make_loop: MakeLoop,
    publish: Publish,
    receiver: Receiver,
):
    loop = await make_loop(make_settings(delivery_batch_size=10))
    limits = {"parallelism": 2, "rate": None, "period": 1}
    for n in range(5):
        await publish(receiver.url(f"/f{n}"), flow_control_key="k", flow_control=limits)
    assert await loop.run_once() == 2
    assert await loop.run_once() == 2
    assert await loop.run_once() == 1


async def test_flow_control_rate_admits_at_most_rate_per_period(
    make_settings,
    make_loop: MakeLoop,
    publish: Publish,
    receiver: Receiver,
    clock: FixedClock,
):
    loop = await make_loop(make_settings(delivery_batch_size=10))
    limits = {"parallelism": None, "rate": 2, "period": 60}
    for n in range(5):
        await publish(receiver.url(f"/r{n}"), flow_control_key="rated", flow_control=limits)
    assert await loop.run_once() == 2
    clock.advance(timedelta(seconds=30))
    assert await loop.run_once() == 0
    clock.advance(timedelta(seconds=31))
    assert await loop.run_once() == 2


async def test_flow_control_retry_frees_the_slot_between_attempts(
    settings: Settings,
    make_loop: MakeLoop,
    publish: Publish,
    receiver: Receiver,
    clock: FixedClock,
):
    loop = await make_loop(settings)
    limits = {"parallelism": 1, "rate": None, "period": 1}
    await publish(receiver.url("/a"), flow_control_key="k1", flow_control=limits)
    await publish(receiver.url("/b"), flow_control_key="k1", flow_control=limits)
    receiver.replies.append(Reply(status=500))
    assert await loop.run_once() == 1  # /a fails: waits parked for its retry
    assert await loop.run_once() == 1  # /b may go meanwhile
    clock.advance(timedelta(seconds=13))
    assert await loop.run_once() == 1  # /a retried
    assert _paths(receiver) == ["/a", "/b", "/a"]


async def test_latest_message_limits_apply_unless_pinned(
    settings: Settings,
    publish: Publish,
    receiver: Receiver,
    pool: asyncpg.Pool,
    clock: FixedClock,
):
    await publish(
        receiver.url("/x"),
        flow_control_key="cfg",
        flow_control={"parallelism": 1, "rate": None, "period": 1},
    )
    await publish(
        receiver.url("/y"),
        flow_control_key="cfg",
        flow_control={"parallelism": 5, "rate": 3, "period": 10},
    )
    gate = await gates.find(pool, gates.FLOW, "cfg")
    assert gate is not None
    assert (gate.parallelism, gate.rate, gate.period_seconds) == (5, 3, 10)
    await gates.pin(pool, "cfg", parallelism=2, rate=None, period=None, now=clock.now())
    await publish(
        receiver.url("/z"),
        flow_control_key="cfg",
        flow_control={"parallelism": 9, "rate": 4, "period": 10},
    )
    gate = await gates.find(pool, gates.FLOW, "cfg")
    assert gate is not None
    assert (gate.parallelism, gate.rate) == (2, 4)
    assert gate.waiting == 3


async def test_flow_control_rate_holds_across_two_replicas(
    make_settings,
    make_loop: MakeLoop,
    publish: Publish,
    receiver: Receiver,
    db_dsn: str,
    clock: FixedClock,
):
    settings = make_settings(delivery_batch_size=20)
    limits = {"parallelism": None, "rate": 3, "period": 60}
    for n in range(10):
        await publish(receiver.url(f"/s{n}"), flow_control_key="shared", flow_control=limits)
    other_pool = await store_db.create_pool(db_dsn, min_size=1, max_size=3)
    try:
        first = await make_loop(settings)
        second = await make_loop(settings)
        second._pool = other_pool  # a second replica with its own connections
        counts = await asyncio.gather(*(loop.run_once() for loop in (first, second) * 3))
        assert sum(counts) == 3
        clock.advance(timedelta(seconds=61))
        counts = await asyncio.gather(*(loop.run_once() for loop in (first, second) * 3))
        assert sum(counts) == 3
    finally:
        await other_pool.close()
