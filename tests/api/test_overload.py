"""While Postgres cannot commit, publishes past WIREPOST_MAX_PENDING_* are refused with 503 and
Retry-After (nothing stored), the ones already waiting are committed once it can, and publishing
works again after. The stall is real: another session holds the messages table locked."""

from __future__ import annotations

import asyncio

import orjson

from tests.api.conftest import AUTH, count_rows, publish, raw_request
from tests.conftest import wait_until
from wirepost.api.state import STATE

DEST = "http://127.0.0.1:9/hook"


async def test_publishes_past_the_bound_get_503_with_retry_after_and_the_waiting_ones_commit(
    make_api, pool, messages_locked
):
    api = await make_api(max_pending_messages=2)
    pending = api.server.app[STATE].pending

    def send(body: bytes):
        return raw_request(api, "POST", "/v2/publish/" + DEST, headers=AUTH, data=body)

    waiting = [asyncio.create_task(send(b"first")), asyncio.create_task(send(b"second"))]
    await wait_until(lambda: pending.messages == 2)

    refused = await asyncio.wait_for(send(b"third"), 10)  # answered at once, not held
    assert refused.status == 503
    assert refused.headers["Retry-After"] == "1"
    error = (await refused.json())["error"]
    assert "WIREPOST_MAX_PENDING_MESSAGES=2" in error
    assert "2 messages" in error

    one_more = await asyncio.wait_for(
        api.post(
            "/v2/batch", headers=AUTH, data=orjson.dumps([{"destination": DEST, "body": "fourth"}])
        ),
        10,
    )
    assert one_more.status == 503
    assert one_more.headers["Retry-After"] == "1"

    await messages_locked.execute("ROLLBACK")  # Postgres can commit again
    answers = await asyncio.gather(*waiting)
    assert [a.status for a in answers] == [201, 201]
    stored = {bytes(r["body"]) for r in await pool.fetch("SELECT body FROM messages")}
    assert stored == {b"first", b"second"}
    assert (pending.messages, pending.bytes) == (0, 0)

    await publish(api, DEST, b"fifth")
    assert await count_rows(pool, "messages") == 3


async def test_the_byte_bound_counts_a_batch_as_its_body(make_api, pool, messages_locked):
    api = await make_api(max_pending_bytes=100)
    pending = api.server.app[STATE].pending
    first = orjson.dumps([{"destination": DEST, "body": "a" * 30}])
    waiting = asyncio.create_task(api.post("/v2/batch", headers=AUTH, data=first))
    await wait_until(lambda: pending.bytes == len(first))

    second = orjson.dumps([{"destination": DEST, "body": "b" * 30}])
    refused = await asyncio.wait_for(api.post("/v2/batch", headers=AUTH, data=second), 10)
    assert refused.status == 503
    assert "WIREPOST_MAX_PENDING_BYTES=100" in (await refused.json())["error"]

    await messages_locked.execute("ROLLBACK")
    assert (await waiting).status == 201
    assert await count_rows(pool, "messages") == 1


async def test_a_batch_is_admitted_on_its_size_then_counted_by_its_items(
    make_api, pool, messages_locked
):
    api = await make_api(max_pending_messages=3)
    pending = api.server.app[STATE].pending
    waiting = asyncio.create_task(
        raw_request(api, "POST", "/v2/publish/" + DEST, headers=AUTH, data=b"first")
    )
    await wait_until(lambda: pending.messages == 1)

    three = orjson.dumps([{"destination": DEST, "body": str(n)} for n in range(3)])
    refused = await asyncio.wait_for(api.post("/v2/batch", headers=AUTH, data=three), 10)
    assert refused.status == 503
    assert "1 messages" in (await refused.json())["error"]
    assert pending.messages == 1

    await messages_locked.execute("ROLLBACK")
    assert (await waiting).status == 201
    answered = await api.post("/v2/batch", headers=AUTH, data=three)
    assert answered.status == 201
    assert await count_rows(pool, "messages") == 4


async def test_a_body_over_the_limit_is_413_not_503_while_publishes_wait(make_api, messages_locked):
    api = await make_api(max_pending_messages=1, max_body_size=10)
    pending = api.server.app[STATE].pending
    waiting = asyncio.create_task(
        raw_request(api, "POST", "/v2/publish/" + DEST, headers=AUTH, data=b"first")
    )
    await wait_until(lambda: pending.messages == 1)
    too_large = await asyncio.wait_for(
        raw_request(api, "POST", "/v2/publish/" + DEST, headers=AUTH, data=b"x" * 11), 10
    )
    assert too_large.status == 413
    await messages_locked.execute("ROLLBACK")
    assert (await waiting).status == 201
