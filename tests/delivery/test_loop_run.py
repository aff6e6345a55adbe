"""DeliveryLoop.run(stop) as a task: wakes on a publish instead of waiting for its poll (its own
process's in-process, another's through NOTIFY), and stops cleanly, finishing the attempts in
flight."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from tests.conftest import wait_until
from tests.delivery.outbox_state import available_at, states_of, wait_recorded
from tests.factories import make_message
from tests.receiver import Reply
from wirepost import build
from wirepost.domain import Claimed, Delivered, Response, State
from wirepost.store import deliveries
from wirepost.store.db import listen
from wirepost.wakeup import Waker

LONG_POLL = timedelta(seconds=60)

patches_module_functions = pytest.mark.skipif(
    bool(build.compiled_modules()),
    reason="replaces a module function, which compiled callers bind at build time "
    "(runs against the pure Python build)",
)


async def settle(pool) -> None:
    """Wait until the loop's LISTEN connection is up and its catch-up pass is over, so the
    loop is idle and only a wake (or its minute-long poll) can start the next claim."""

    async def listening() -> bool:
        count = await pool.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
        )
        return bool(count)

    await wait_until(listening, timeout=5)
    await asyncio.sleep(0.3)


async def test_run_delivers_promptly_after_a_wake_and_stops_when_told(
    pool, clock, make_settings, receiver, make_loop, publish
):
    waker = Waker()
    loop = await make_loop(make_settings(poll_interval=LONG_POLL), wake=waker.local)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await settle(pool)
        assert receiver.requests == []
        started = time.monotonic()
        message = await publish(receiver.url(), waker=waker)
        await wait_until(lambda: receiver.requests, timeout=5)
        assert time.monotonic() - started < 2.0
        assert receiver.requests[0].headers["Upstash-Message-Id"] == message.id

        await wait_recorded(pool, message.id)
        assert await states_of(pool, message.id) == [
            State.CREATED,
            State.ACTIVE,
            State.DELIVERED,
        ]
    finally:
        stop.set()
        stopping = time.monotonic()
        await asyncio.wait_for(task, timeout=10)
    assert time.monotonic() - stopping < 2.0
    assert task.exception() is None


async def test_run_without_a_wake_waits_for_its_poll(
    pool, clock, make_settings, receiver, make_loop, publish
):
    loop = await make_loop(make_settings(poll_interval=LONG_POLL), wake=asyncio.Event())
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await settle(pool)
        await publish(receiver.url(), waker=Waker())  # a waker the loop does not listen to
        await asyncio.sleep(1.0)
        assert receiver.requests == []
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def test_stop_lets_the_attempt_in_flight_finish_and_records_it(
    pool, clock, make_settings, receiver, make_loop, publish
):
    waker = Waker()
    loop = await make_loop(make_settings(poll_interval=LONG_POLL), wake=waker.local)
    receiver.default = Reply(200, delay=0.5)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        message = await publish(receiver.url(), waker=waker)
        await wait_until(lambda: receiver.requests, timeout=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)

    assert await available_at(pool, message.id) is None
    assert (await states_of(pool, message.id))[-1] == State.DELIVERED


async def test_a_notification_from_another_process_wakes_the_loop(
    pool, clock, make_settings, receiver, make_loop, publish
):
    settings = make_settings(poll_interval=LONG_POLL)
    other_process = Waker()  # its in-process wake-up is not the loop's
    loop = await make_loop(settings, wake=asyncio.Event(), own_origin=Waker().origin)
    stop = asyncio.Event()
    tasks = [
        asyncio.create_task(loop.run(stop)),
        asyncio.create_task(other_process.run(pool, stop)),
    ]
    try:
        await settle(pool)
        started = time.monotonic()
        message = await publish(receiver.url(), waker=other_process)
        await wait_until(lambda: receiver.requests, timeout=5)
        assert time.monotonic() - started < 2.0
        assert receiver.requests[0].headers["Upstash-Message-Id"] == message.id
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)


async def test_the_loop_skips_notifications_from_its_own_process(
    pool, clock, make_settings, receiver, make_loop, publish
):
    """Its own process woke it in-process already; answering the echo would claim again."""
    settings = make_settings(poll_interval=LONG_POLL)
    waker = Waker()
    loop = await make_loop(settings, wake=asyncio.Event(), own_origin=waker.origin)
    sent: list[str] = []
    watcher = await listen(
        settings.database_url, [deliveries.CHANNEL], lambda _channel, origin: sent.append(origin)
    )
    stop = asyncio.Event()
    tasks = [asyncio.create_task(loop.run(stop)), asyncio.create_task(waker.run(pool, stop))]
    try:
        await settle(pool)
        await publish(receiver.url(), waker=waker)
        await wait_until(lambda: sent, timeout=5)  # the notification went out
        await asyncio.sleep(1.0)
        assert sent == [waker.origin]
        assert receiver.requests == []
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=10)
        await watcher.close()


@patches_module_functions
async def test_an_attempt_that_crashes_frees_its_slot_and_leaves_its_lease(
    pool, clock, make_settings, receiver, make_loop, publish, monkeypatch, caplog
):
    # A bug while preparing one attempt (not the destination's doing) is logged; the loop
    # keeps delivering, and the message waits for its lease to expire instead of being lost.
    from wirepost.delivery import dispatch

    real = dispatch.request_headers

    def headers_or_crash(m, retried, signature):
        if m.url.endswith("/crash"):
            raise RuntimeError("a bug")
        return real(m, retried, signature)

    monkeypatch.setattr(dispatch, "request_headers", headers_or_crash)
    waker = Waker()
    loop = await make_loop(make_settings(poll_interval=LONG_POLL), wake=waker.local)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        crashing = await publish(receiver.url("/crash"), waker=waker)
        await wait_until(lambda: "delivery_attempt_crashed" in caplog.text, timeout=5)
        fine = await publish(receiver.url(), waker=waker)
        await wait_until(lambda: receiver.requests, timeout=5)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert [r.headers["Upstash-Message-Id"] for r in receiver.requests] == [fine.id]
    assert (await states_of(pool, fine.id))[-1] == State.DELIVERED
    # Its attempt is logged (ACTIVE) when the delivery is claimed again after the lease.
    assert await states_of(pool, crashing.id) == [State.CREATED]
    assert await available_at(pool, crashing.id) is not None  # leased: due again later


@patches_module_functions
async def test_a_loop_woken_during_its_claim_claims_again_without_asking_when_work_is_due(
    pool, make_settings, make_loop, monkeypatch
):
    """At a publish every millisecond the wake-up usually lands while a claim runs; the wait
    after it would end at once, so the due-time query would be thrown away."""
    waker = Waker()
    loop = await make_loop(make_settings(poll_interval=LONG_POLL), wake=waker.local)
    calls: list[str] = []
    wake_during_next_claim = False
    claim_due, next_due_at = deliveries.claim_due, deliveries.next_due_at

    async def claim(*args, **kwargs):
        nonlocal wake_during_next_claim
        calls.append("claim")
        if wake_during_next_claim:
            wake_during_next_claim = False
            waker.local.set()  # a publish committed while this claim ran
        return await claim_due(*args, **kwargs)

    async def due(*args, **kwargs):
        calls.append("due")
        return await next_due_at(*args, **kwargs)

    monkeypatch.setattr(deliveries, "claim_due", claim)
    monkeypatch.setattr(deliveries, "next_due_at", due)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await settle(pool)
        assert calls[-1] == "due"  # idle: it asked when work is due, then waited
        calls.clear()
        wake_during_next_claim = True
        waker.local.set()
        await wait_until(lambda: "due" in calls, timeout=5)
        await asyncio.sleep(0.2)
        assert calls == ["claim", "claim", "due"]
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


@pytest.mark.parametrize(
    ("budget", "most_in_flight"), [({"delivery_max_bytes": 2500}, 3), ({}, 12)]
)
async def test_bodies_in_flight_stay_within_the_byte_budget_plus_one(
    pool, make_settings, receiver, make_loop, publish, budget, most_in_flight
):
    # Twelve 1,000-byte bodies: under a 2,500-byte budget three go out at once (the third goes
    # past it); under the default budget all twelve, as the slots and the claim size allow.
    receiver.default = Reply(delay=0.2)
    settings = make_settings(poll_interval=timedelta(milliseconds=50), **budget)
    for n in range(12):
        await publish(receiver.url(f"/b{n}"), body=b"x" * 1000)
    loop = await make_loop(settings)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await wait_until(lambda: len(receiver.requests) == 12, timeout=10)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert receiver.max_in_flight == most_in_flight
    assert sorted(r.path for r in receiver.requests) == sorted(f"/b{n}" for n in range(12))
    assert loop._inflight_bytes == 0


async def test_a_trickle_of_outcomes_is_recorded_in_few_transactions(
    pool, clock, make_settings, receiver, make_loop, publish
):
    # Five messages published one after the other, each delivered before the next: the
    # recorder lingers for more outcomes (here up to a second) instead of writing each as it
    # comes. Rows that one transaction inserted share its id (xmin).
    waker = Waker()
    loop = await make_loop(
        make_settings(poll_interval=LONG_POLL), wake=waker.local, record_linger=1.0
    )
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await settle(pool)
        sent = []
        for _ in range(5):
            sent.append(await publish(receiver.url(), waker=waker))
            await wait_until(lambda: len(receiver.requests) == len(sent), timeout=5)
        for message in sent:
            await wait_recorded(pool, message.id)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert len(receiver.requests) == 5
    transactions = await pool.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM events WHERE state = 'DELIVERED'"
    )
    assert transactions == 1


async def test_the_recorder_does_not_linger_over_an_outcome_that_frees_a_gate(
    clock, make_settings, make_loop
):
    loop = await make_loop(make_settings())
    stop = asyncio.Event()
    delivered = Delivered(Response(200))
    plain = Claimed(make_message(clock.now()), 1, 0)
    loop._finished = [(plain, delivered)]
    assert loop._may_linger(stop)
    for gated in (
        make_message(clock.now(), queue_name="q"),
        make_message(clock.now(), flow_control_key="k"),
    ):
        loop._finished = [(plain, delivered), (Claimed(gated, 1, 0), delivered)]
        assert not loop._may_linger(stop)
    loop._finished = [(plain, delivered)]
    stop.set()
    assert not loop._may_linger(stop)


async def test_a_slow_attempt_shows_active_in_the_logs_while_it_runs(
    pool, make_settings, receiver, make_loop, publish
):
    # A quick attempt's ACTIVE is logged with its outcome; one still running a look or two
    # later (ACTIVE_LOG_SECONDS apart) is logged on its own, once.
    receiver.default = Reply(200, b"slow", delay=3.0)
    waker = Waker()
    loop = await make_loop(make_settings(poll_interval=LONG_POLL), wake=waker.local)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        message = await publish(receiver.url(), waker=waker)
        await wait_until(lambda: receiver.requests, timeout=5)

        async def active_logged() -> bool:
            return await states_of(pool, message.id) == [State.CREATED, State.ACTIVE]

        await wait_until(active_logged, timeout=2.9)
        await wait_recorded(pool, message.id)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)
    assert await states_of(pool, message.id) == [State.CREATED, State.ACTIVE, State.DELIVERED]
