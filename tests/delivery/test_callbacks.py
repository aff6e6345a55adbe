"""Callbacks and failure callbacks: signed messages carrying each attempt's result."""

from __future__ import annotations

import base64
from datetime import timedelta

import orjson
from qstash import Receiver as QStashReceiver

from tests.conftest import TEST_CURRENT_KEY, TEST_NEXT_KEY
from tests.delivery.conftest import MakeLoop, Publish
from tests.receiver import Receiver, Reply
from wirepost.clock import FixedClock
from wirepost.config import Settings


def _bodies(receiver: Receiver, path: str) -> list[dict[str, object]]:
    return [orjson.loads(r.body) for r in receiver.requests if r.path == path]


async def test_callback_receives_the_attempt_result_signed_for_its_url(
    settings: Settings, make_loop: MakeLoop, publish: Publish, receiver: Receiver
):
    loop = await make_loop(settings)
    receiver.replies.append(Reply(status=200, body=b"done"))
    source = await publish(
        receiver.url("/work"), callback=receiver.url("/cb"), callback_headers={"X-Tag": ["t1"]}
    )
    assert await loop.run_once() == 1
    assert await loop.run_once() == 1  # the callback message
    [body] = _bodies(receiver, "/cb")
    assert body["status"] == 200
    assert base64.b64decode(str(body["body"])) == b"done"
    assert body["sourceMessageId"] == source.id
    assert body["url"] == receiver.url("/work")
    assert base64.b64decode(str(body["sourceBody"])) == source.body
    assert (body["retried"], body["maxRetries"]) == (0, source.max_retries)
    [request] = [r for r in receiver.requests if r.path == "/cb"]
    assert request.headers["X-Tag"] == "t1"
    assert request.headers["Content-Type"] == "application/json"
    QStashReceiver(TEST_CURRENT_KEY, TEST_NEXT_KEY).verify(
        signature=request.headers["Upstash-Signature"],
        body=request.body.decode(),
        url=receiver.url("/cb"),
    )


async def test_callback_follows_every_attempt_and_failure_callback_the_last(
    settings: Settings,
    make_loop: MakeLoop,
    publish: Publish,
    receiver: Receiver,
    clock: FixedClock,
):
    loop = await make_loop(settings)
    # Replies go out in arrival order: attempt 1, its callback, attempt 2.
    receiver.replies.extend(
        [Reply(status=500, body=b"e1"), Reply(status=200), Reply(status=502, body=b"e2")]
    )
    await publish(
        receiver.url("/flaky"),
        max_retries=1,
        callback=receiver.url("/cb"),
        failure_callback=receiver.url("/failed"),
    )
    assert await loop.run_once() == 1  # attempt 1 fails → callback queued
    assert await loop.run_once() == 1  # callback delivered
    clock.advance(timedelta(seconds=13))
    assert await loop.run_once() == 1  # attempt 2 fails → DLQ, callback + failure callback
    assert await loop.run_once() == 2
    statuses = [b["status"] for b in _bodies(receiver, "/cb")]
    assert statuses == [500, 502]
    [failed] = _bodies(receiver, "/failed")
    assert failed["status"] == 502
    assert failed["retried"] == failed["maxRetries"] == 1
    assert str(failed["dlqId"]).isdigit()


async def test_queue_waits_for_the_callback_of_its_head(
    settings: Settings, make_loop: MakeLoop, publish: Publish, receiver: Receiver
):
    loop = await make_loop(settings)
    await publish(receiver.url("/one"), queue_name="cbq", callback=receiver.url("/cb"))
    await publish(receiver.url("/two"), queue_name="cbq")
    assert await loop.run_once() == 1  # /one
    assert await loop.run_once() == 1  # its callback holds the slot: /two waits
    assert await loop.run_once() == 1  # /two
    assert [r.path for r in receiver.requests] == ["/one", "/cb", "/two"]
