from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg
import pytest

from tests.factories import make_message
from wirepost.clock import FixedClock
from wirepost.domain import Claimed, Delivered, GiveUp, Handoff, Message, Response, RetryLater
from wirepost.store import deliveries, events, messages
from wirepost.store.filters import EventFilter

LEASE = timedelta(seconds=30)


async def _log_times(pool: asyncpg.Pool, message_id: str) -> list[tuple[str, object]]:
    """The message's log as GET /v2/events lists it, earliest first: (state, time) pairs."""
    page, _ = await events.list_page(
        pool, EventFilter(message_ids=[message_id]), after=None, limit=100, latest_first=False
    )
    return [(e.state.value, e.at) for e in page]


async def _states(pool: asyncpg.Pool, message_id: str) -> list[str]:
    return [state for state, _ in await _log_times(pool, message_id)]


async def _active_at(pool: asyncpg.Pool, message_id: str) -> object:
    """When the running attempt began, while its ACTIVE is not logged yet (else None)."""
    return await pool.fetchval(
        "SELECT active_at FROM deliveries WHERE message_id = $1 AND leased", message_id
    )


async def _claimed_batch(
    pool: asyncpg.Pool, now: datetime, count: int
) -> tuple[list[Message], dict[str, Claimed]]:
    """``count`` new messages, published and claimed: the messages and their claims by id."""
    batch = [make_message(now) for _ in range(count)]
    await messages.insert_many(pool, batch, now=now)
    claimed = await deliveries.claim_due(pool, limit=count, lease=LEASE, now=now)
    return batch, {c.message.id: c for c in claimed}


async def test_insert_many_then_claim_due_returns_the_message(pool, clock: FixedClock):
    now = clock.now()
    msg = make_message(now, labels=("a", "b"), headers={"X-Test": ["1", "2"]})
    await messages.insert_many(pool, [msg], now=now)
    claimed = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    assert [c.message for c in claimed] == [msg]
    assert claimed[0].claims == 1
    assert claimed[0].retried == 0
    # The attempt's ACTIVE is logged with its outcome (or by log_active while it runs).
    assert await _states(pool, msg.id) == ["CREATED"]
    assert await _active_at(pool, msg.id) == now


async def test_insert_many_stores_every_field_as_given(pool, clock: FixedClock):
    now = clock.now()
    full = make_message(
        now,
        url="https://example.com/a%20b?x=1",
        method="PUT",
        headers={"X-Test": ["1", "2"], "Content-Type": ["text/plain; charset=utf-8"]},
        body=bytes(range(256)),
        max_retries=7,
        not_before=now + timedelta(microseconds=123_457),
        created_at=now - timedelta(microseconds=1),
        retry_delay="pow(2, retried) * 1000",
        timeout_ms=1500,
        caller_ip="203.0.113.9",
        labels=("a", "é"),
        topic_name="group",
        endpoint_name="first",
        schedule_id="scd_1",
        callback="https://example.com/cb",
        callback_headers={"X-Cb": ["1"]},
        failure_callback="https://example.com/fail",
        failure_callback_headers={"X-Fail": ["2"]},
        callback_options={"callback": {"retries": 2}, "failure": {"timeout": "5s"}},
        flow_control_key="tenant-7",
        flow_control={"parallelism": 2, "rate": None, "period": 1},
        redact=("body", "header[X-Test]"),
        dedup_id="dedup-1",
        source_message_id="msg_source",
    )
    bare = make_message(now, body=b"", headers={}, labels=())
    await messages.insert_many(pool, [full, bare], now=now)
    assert await messages.find(pool, full.id) == full
    assert await messages.find(pool, bare.id) == bare
    # The claim reads its columns by position: every field, each with its own value, comes back.
    later = now + timedelta(seconds=1)
    claimed = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=later)
    assert {c.message.id: c for c in claimed} == {
        full.id: Claimed(full, 1, 0),
        bare.id: Claimed(bare, 1, 0),
    }


async def test_insert_many_keeps_each_body_with_its_message_and_rows_in_publish_order(
    pool, clock: FixedClock
):
    now = clock.now()
    # Ids in descending order, so that no order but the list's can give the checks below.
    batch = [
        make_message(now, id=f"msg_{99 - n:02d}", body=b"x" * n + b"|%d" % n) for n in range(40)
    ]
    await messages.insert_many(pool, batch, now=now)
    rows = await pool.fetch(
        "SELECT d.message_id, d.body_size, m.body FROM deliveries d"
        " JOIN messages m ON m.id = d.message_id ORDER BY d.seq"
    )
    assert [(r["message_id"], r["body"], r["body_size"]) for r in rows] == [
        (m.id, m.body, len(m.body)) for m in batch
    ]
    created = await pool.fetch("SELECT message_id FROM events ORDER BY id")
    assert [r["message_id"] for r in created] == [m.id for m in batch]


async def test_insert_many_stores_handed_off_messages_already_claimed(pool, clock: FixedClock):
    # Handed to this process's delivery loop: leased like a first claim, its attempt starting
    # now (ACTIVE is logged with the outcome); the rest of the statement's messages are stored
    # as usual.
    now = clock.now()
    mine, other = make_message(now), make_message(now)
    handoff = Handoff([mine], now + LEASE)
    await messages.insert_many(pool, [other, mine], now=now, handoff=handoff)
    assert await _states(pool, mine.id) == ["CREATED"]
    assert await _active_at(pool, mine.id) == now
    assert await _states(pool, other.id) == ["CREATED"]
    assert await _active_at(pool, other.id) is None
    row = await pool.fetchrow(
        "SELECT available_at, leased, claims FROM deliveries WHERE message_id = $1", mine.id
    )
    assert (row["available_at"], row["leased"], row["claims"]) == (now + LEASE, True, 1)
    assert [
        c.message for c in await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    ] == [other]
    # The handed-off delivery's outcome is recorded like a claimed one's ...
    sent = Delivered(Response(200, {}, b"ok"))
    await deliveries.complete_many(pool, [(Claimed(mine, 1, 0), sent)], now=now)
    assert await _states(pool, mine.id) == ["CREATED", "ACTIVE", "DELIVERED"]


async def test_a_handed_off_delivery_comes_due_again_when_its_lease_ends(pool, clock: FixedClock):
    # ... and if the process holding it dies first, anyone claims it when the lease ends.
    now = clock.now()
    message = make_message(now)
    await messages.insert_many(pool, [message], now=now, handoff=Handoff([message], now + LEASE))
    assert await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now + LEASE / 2) == []
    later = now + LEASE
    assert await deliveries.claim_due(pool, limit=10, lease=LEASE, now=later) == [
        Claimed(message, 2, 0)
    ]


async def test_claim_due_ignores_messages_not_yet_due(pool, clock: FixedClock):
    now = clock.now()
    later = make_message(now, not_before=now + timedelta(seconds=5))
    await messages.insert_many(pool, [later], now=now)
    assert await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now) == []
    assert await deliveries.next_due_at(pool, now=now) == later.not_before
    due = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now + timedelta(seconds=5))
    assert [c.message.id for c in due] == [later.id]


async def test_claim_due_skips_rows_locked_by_another_worker(pool, clock: FixedClock):
    now = clock.now()
    batch = [make_message(now) for _ in range(4)]
    await messages.insert_many(pool, batch, now=now)
    async with pool.acquire() as other, other.transaction():
        first = await deliveries.claim_due(other, limit=2, lease=LEASE, now=now)
        second = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
        assert len(first) == 2
        assert len(second) == 2
        assert {c.message.id for c in first}.isdisjoint({c.message.id for c in second})


async def test_claim_due_does_not_reclaim_before_the_lease_expires(pool, clock: FixedClock):
    now = clock.now()
    msg = make_message(now)
    await messages.insert_many(pool, [msg], now=now)
    await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    assert await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now + LEASE / 2) == []
    again = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now + LEASE)
    assert [c.claims for c in again] == [2]


async def test_extend_leases_keeps_a_live_claim(pool, clock: FixedClock):
    now = clock.now()
    msg = make_message(now)
    await messages.insert_many(pool, [msg], now=now)
    claimed = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    await deliveries.extend_leases(pool, claimed, until=now + 2 * LEASE)
    assert await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now + LEASE) == []


async def test_complete_many_delivered_removes_the_delivery(pool, clock: FixedClock):
    now = clock.now()
    msg = make_message(now)
    await messages.insert_many(pool, [msg], now=now)
    [claimed] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    response = Response(200, {"Server": ["x"]}, b"fine")
    assert len(await deliveries.complete_many(pool, [(claimed, Delivered(response))], now=now)) == 1
    assert await deliveries.count_pending(pool) == 0
    assert await _states(pool, msg.id) == ["CREATED", "ACTIVE", "DELIVERED"]
    row = await pool.fetchrow("SELECT * FROM events WHERE state = 'DELIVERED'")
    assert (row["response_status"], row["response_body"]) == (200, b"fine")
    assert row["response_headers"] == {"Server": ["x"]}


@pytest.mark.parametrize("record", [deliveries.complete_many, deliveries.record_many])
async def test_outcomes_of_a_lost_lease_are_skipped(
    pool, clock: FixedClock, record: Callable[..., Awaitable[object]]
):
    now = clock.now()
    msg = make_message(now)
    await messages.insert_many(pool, [msg], now=now)
    [stale] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    [fresh] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now + LEASE)
    ok = Delivered(Response(200))
    assert await record(pool, [(stale, ok)], now=now) in ({}, None)
    assert await deliveries.count_pending(pool) == 1
    assert await record(pool, [(fresh, ok)], now=now) in ({msg.id: None}, None)
    assert await deliveries.count_pending(pool) == 0


async def test_complete_many_retry_reschedules_and_counts(pool, clock: FixedClock):
    now = clock.now()
    msg = make_message(now)
    await messages.insert_many(pool, [msg], now=now)
    [claimed] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    at = now + timedelta(seconds=12)
    outcome = RetryLater(at, "HTTP 503", Response(503, {}, b"down"))
    assert len(await deliveries.complete_many(pool, [(claimed, outcome)], now=now)) == 1
    assert await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now) == []
    assert await deliveries.next_due_at(pool, now=now) == at
    [again] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=at)
    assert again.retried == 1
    # The second attempt's ACTIVE waits for its outcome.
    assert await _states(pool, msg.id) == ["CREATED", "ACTIVE", "ERROR", "RETRY"]
    await deliveries.complete_many(pool, [(again, Delivered(Response(200)))], now=at)
    assert await _states(pool, msg.id) == [
        "CREATED", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "DELIVERED"
    ]  # fmt: skip


async def test_complete_many_failed_moves_to_dead_letters(pool, clock: FixedClock):
    now = clock.now()
    msg = make_message(now)
    await messages.insert_many(pool, [msg], now=now)
    [claimed] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    outcome = GiveUp("connection refused", Response())
    assert len(await deliveries.complete_many(pool, [(claimed, outcome)], now=now)) == 1
    row = await pool.fetchrow("SELECT * FROM dead_letters")
    assert (row["message_id"], row["response_status"], row["error"]) == (
        msg.id,
        0,
        "connection refused",
    )
    assert await _states(pool, msg.id) == ["CREATED", "ACTIVE", "ERROR", "FAILED"]


async def test_complete_many_mixed_batch_applies_each_outcome(pool, clock: FixedClock):
    now = clock.now()
    batch = [make_message(now) for _ in range(3)]
    await messages.insert_many(pool, batch, now=now)
    claimed = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    by_id = {c.message.id: c for c in claimed}
    outcomes = [
        (by_id[batch[0].id], Delivered(Response(204))),
        (by_id[batch[1].id], RetryLater(now + timedelta(minutes=1), "HTTP 500", Response(500))),
        (by_id[batch[2].id], GiveUp("HTTP 489", Response(489))),
    ]
    assert len(await deliveries.complete_many(pool, outcomes, now=now)) == 3
    assert await deliveries.count_pending(pool) == 1
    assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 1


@pytest.mark.parametrize("with_a_retry", [False, True], ids=["all delivered", "one retry"])
async def test_complete_many_logs_each_response_with_its_own_message(
    pool, clock: FixedClock, with_a_retry: bool
):
    # All delivered takes complete_delivered; a retry among them takes complete_many.
    now = clock.now()
    batch = [make_message(now) for _ in range(12)]
    await messages.insert_many(pool, batch, now=now)
    by_id = {
        c.message.id: c for c in await deliveries.claim_due(pool, limit=20, lease=LEASE, now=now)
    }
    expected = {
        m.id: (200 + n, {"X-N": [str(n)]}, b"body %d " % n + b"." * n) for n, m in enumerate(batch)
    }
    outcomes: list[tuple[Claimed, Delivered | RetryLater]] = [
        (by_id[m.id], Delivered(Response(*expected[m.id]))) for m in batch
    ]
    if with_a_retry:
        last = batch[-1].id
        outcomes[-1] = (
            by_id[last],
            RetryLater(now + timedelta(minutes=1), "HTTP 500", Response(*expected[last])),
        )

    await deliveries.complete_many(pool, outcomes, now=now)

    rows = await pool.fetch(
        "SELECT message_id, response_status, response_headers, response_body FROM events"
        " WHERE state IN ('DELIVERED', 'ERROR')"
    )
    assert {
        r["message_id"]: (r["response_status"], r["response_headers"], r["response_body"])
        for r in rows
    } == expected


async def test_a_delivery_is_recorded_alike_alone_and_beside_other_outcomes(
    pool, clock: FixedClock
):
    # A batch of deliveries only takes complete_delivered; one with a retry takes complete_many.
    now = clock.now()
    batch, by_id = await _claimed_batch(pool, now, 3)
    response = Response(201, {"Server": ["x"], "X-Twice": ["a", "b"]}, b"made")
    retry = RetryLater(now + timedelta(minutes=1), "HTTP 500", Response(500))
    alone = await deliveries.complete_many(
        pool, [(by_id[batch[0].id], Delivered(response))], now=now
    )
    beside = await deliveries.complete_many(
        pool,
        [(by_id[batch[1].id], Delivered(response)), (by_id[batch[2].id], retry)],
        now=now,
    )
    assert alone == {batch[0].id: None}
    assert beside == {batch[1].id: None, batch[2].id: None}
    query = (
        "SELECT at, state, error, next_delivery_at, response_status, response_headers,"
        " response_body FROM events WHERE message_id = $1 AND state = 'DELIVERED'"
    )
    recorded = [dict(await pool.fetchrow(query, m.id)) for m in batch[:2]]
    assert recorded[0] == recorded[1]
    assert recorded[0]["response_headers"] == {"Server": ["x"], "X-Twice": ["a", "b"]}
    assert [await _states(pool, m.id) for m in batch[:2]] == [
        ["CREATED", "ACTIVE", "DELIVERED"]
    ] * 2
    assert await deliveries.count_pending(pool) == 1  # the retry


@pytest.mark.parametrize("with_a_retry", [False, True], ids=["all delivered", "one retry"])
async def test_record_many_writes_what_complete_many_writes(
    pool, clock: FixedClock, with_a_retry: bool
):
    # The delivery loop records with record_many, which returns nothing; the writes are the same.
    now = clock.now()
    batch, by_id = await _claimed_batch(pool, now, 4)
    second: Delivered | RetryLater = Delivered(Response(202, {"X": ["2"]}, b"two"))
    if with_a_retry:
        second = RetryLater(now + timedelta(minutes=1), "HTTP 500", Response(500, {}, b"no"))
    outcomes = [Delivered(Response(201, {"X": ["1"]}, b"one")), second]
    pairs = list(zip([by_id[m.id] for m in batch], outcomes * 2, strict=True))
    assert len(await deliveries.complete_many(pool, pairs[:2], now=now)) == 2
    assert await deliveries.record_many(pool, pairs[2:], now=now) is None
    query = (
        "SELECT state, error, next_delivery_at, response_status, response_headers,"
        " response_body, started_at FROM events WHERE message_id = $1 ORDER BY id"
    )
    logged = [[dict(r) for r in await pool.fetch(query, m.id)] for m in batch]
    assert logged[0] == logged[2]
    assert logged[1] == logged[3]
    assert await deliveries.count_pending(pool) == (2 if with_a_retry else 0)


async def test_messages_failing_in_one_batch_enter_the_dlq_in_publish_order(
    pool, clock: FixedClock
):
    now = clock.now()
    # Published a microsecond apart; their ids may sort either way within one millisecond.
    batch = [make_message(now + timedelta(microseconds=i)) for i in range(5)]
    for message in batch:
        await messages.insert_many(pool, [message], now=now)
    claimed = await deliveries.claim_due(
        pool, limit=10, lease=LEASE, now=now + timedelta(seconds=1)
    )
    finished_last_first = sorted(claimed, key=lambda c: c.message.created_at, reverse=True)
    await deliveries.complete_many(
        pool, [(c, GiveUp("HTTP 500", Response(500))) for c in finished_last_first], now=now
    )
    rows = await pool.fetch("SELECT message_id FROM dead_letters ORDER BY id")
    assert [r["message_id"] for r in rows] == [m.id for m in batch]


async def test_cancel_many_drops_pending_deliveries_only(pool, clock: FixedClock):
    now = clock.now()
    pending, done = make_message(now), make_message(now)
    await messages.insert_many(pool, [pending, done], now=now)
    claimed = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    [c_done] = [c for c in claimed if c.message.id == done.id]
    await deliveries.complete_many(pool, [(c_done, Delivered(Response(200)))], now=now)
    cancelled = await messages.cancel_many(pool, [pending.id, done.id, "msg_unknown"], now=now)
    assert cancelled == [pending.id]
    # Its attempt was running (claimed, not recorded): its ACTIVE is logged before the cancel.
    assert await _states(pool, pending.id) == [
        "CREATED", "ACTIVE", "CANCEL_REQUESTED", "CANCELED"
    ]  # fmt: skip


async def test_cancel_many_logs_no_attempt_for_a_delivery_not_running(pool, clock: FixedClock):
    now = clock.now()
    waiting = make_message(now, not_before=now + timedelta(hours=1))
    await messages.insert_many(pool, [waiting], now=now)
    assert await messages.cancel_many(pool, [waiting.id], now=now) == [waiting.id]
    assert await _states(pool, waiting.id) == ["CREATED", "CANCEL_REQUESTED", "CANCELED"]


async def test_an_attempt_whose_lease_ran_out_is_logged_when_claimed_again(pool, clock: FixedClock):
    # Its process died mid-attempt: the attempt is logged, at its own start, by the next claim.
    now = clock.now()
    msg = make_message(now)
    await messages.insert_many(pool, [msg], now=now)
    await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    later = now + LEASE
    [again] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=later)
    assert await _log_times(pool, msg.id) == [("CREATED", now), ("ACTIVE", now)]
    done = later + timedelta(seconds=1)
    await deliveries.complete_many(pool, [(again, Delivered(Response(200)))], now=done)
    assert await _log_times(pool, msg.id) == [
        ("CREATED", now), ("ACTIVE", now), ("ACTIVE", later), ("DELIVERED", done)
    ]  # fmt: skip


async def test_log_active_logs_a_running_attempt_once(pool, clock: FixedClock):
    now = clock.now()
    msg = make_message(now)
    await messages.insert_many(pool, [msg], now=now)
    [claimed] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    await deliveries.log_active(pool, [claimed])
    assert await _log_times(pool, msg.id) == [("CREATED", now), ("ACTIVE", now)]
    await deliveries.log_active(pool, [claimed])
    done = now + timedelta(seconds=3)
    await deliveries.complete_many(pool, [(claimed, Delivered(Response(200)))], now=done)
    assert await _log_times(pool, msg.id) == [
        ("CREATED", now), ("ACTIVE", now), ("DELIVERED", done)
    ]  # fmt: skip


async def test_log_active_skips_an_attempt_whose_lease_was_lost(pool, clock: FixedClock):
    now = clock.now()
    msg = make_message(now)
    await messages.insert_many(pool, [msg], now=now)
    [stale] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now)
    await deliveries.claim_due(pool, limit=10, lease=LEASE, now=now + LEASE)
    await deliveries.log_active(pool, [stale])
    # Only the lost attempt's own ACTIVE, logged by the claim that took it over.
    assert await _states(pool, msg.id) == ["CREATED", "ACTIVE"]


async def test_claim_due_plan_uses_the_available_at_index(pool, clock: FixedClock):
    now = clock.now()
    batch = [make_message(now, not_before=now + timedelta(seconds=i)) for i in range(5000)]
    await messages.insert_many(pool, batch, now=now)
    await pool.execute("ANALYZE deliveries")
    from wirepost.store.queries import Q

    plan = await pool.fetch(
        "EXPLAIN " + Q["deliveries.claim_due"], now, 100, now + LEASE, deliveries.NO_BYTE_BUDGET
    )
    text = "\n".join(r[0] for r in plan)
    assert "deliveries_available_at_idx" in text


@pytest.mark.parametrize(("max_bytes", "taken"), [(250, 3), (300, 3), (301, 4), (1, 1)])
async def test_claim_due_stops_at_its_byte_budget_but_always_takes_the_first(
    pool, clock: FixedClock, max_bytes: int, taken: int
):
    now = clock.now()
    batch = [
        make_message(now, body=b"x" * 100, not_before=now - timedelta(seconds=10 - i))
        for i in range(10)
    ]
    await messages.insert_many(pool, batch, now=now)

    claimed = await deliveries.claim_due(pool, limit=100, lease=LEASE, now=now, max_bytes=max_bytes)

    # Oldest first: a delivery is taken while the bodies before it total less than the budget.
    assert [c.message.id for c in claimed] == [m.id for m in batch[:taken]]
    rest = await deliveries.claim_due(pool, limit=100, lease=LEASE, now=now)
    assert [c.message.id for c in rest] == [m.id for m in batch[taken:]]  # left unleased


async def test_claim_reads_the_size_of_a_delivery_stored_without_one(pool, clock: FixedClock):
    """Rows inserted by a replica from before migration 0006 (body_size -1, see 0007) count
    with their message's real size against the byte budget, not as empty."""
    now = clock.now()
    batch = [
        make_message(now, body=b"x" * 100, not_before=now - timedelta(seconds=10 - i))
        for i in range(3)
    ]
    await messages.insert_many(pool, batch, now=now)
    await pool.execute("UPDATE deliveries SET body_size = DEFAULT")  # as such a replica stores

    claimed = await deliveries.claim_due(pool, limit=100, lease=LEASE, now=now, max_bytes=150)

    assert [c.message.id for c in claimed] == [m.id for m in batch[:2]]


async def test_empty_bodies_never_stop_a_claim(pool, clock: FixedClock):
    now = clock.now()
    await messages.insert_many(pool, [make_message(now, body=b"") for _ in range(5)], now=now)
    claimed = await deliveries.claim_due(pool, limit=100, lease=LEASE, now=now, max_bytes=1)
    assert len(claimed) == 5
