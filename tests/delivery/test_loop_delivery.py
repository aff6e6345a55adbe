"""DeliveryLoop.run_once against a real receiver: a 2xx delivers, and every attempt carries the
QStash headers and a fresh signature the official SDK's Receiver accepts."""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest
from qstash import Receiver as QStashReceiver
from qstash.errors import SignatureError as QStashSignatureError

from tests.conftest import TEST_CURRENT_KEY, TEST_NEXT_KEY
from tests.delivery.outbox_state import available_at, states_of
from tests.receiver import Reply
from wirepost.domain import State
from wirepost_verify import SignatureError, Verifier


async def test_run_once_delivers_on_2xx_and_removes_the_delivery(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    message = await publish(receiver.url("/hook"))

    assert await loop.run_once(clock.now()) == 1

    assert [r.path for r in receiver.requests] == ["/hook"]
    assert await available_at(pool, message.id) is None
    assert await states_of(pool, message.id) == [State.CREATED, State.ACTIVE, State.DELIVERED]
    assert await loop.run_once(clock.now()) == 0
    assert len(receiver.requests) == 1


async def test_run_once_does_not_deliver_a_message_before_its_not_before(
    pool, clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    message = await publish(receiver.url(), not_before=clock.now() + timedelta(seconds=5))

    assert await loop.run_once(clock.now()) == 0
    clock.advance(timedelta(seconds=4))
    assert await loop.run_once(clock.now()) == 0
    assert receiver.requests == []
    clock.advance(timedelta(seconds=1))
    assert await loop.run_once(clock.now()) == 1
    assert [r.headers["Upstash-Message-Id"] for r in receiver.requests] == [message.id]


async def test_attempt_sends_qstash_headers_and_the_stored_body(
    clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    body = b'{"order": 42, "note": "caf\xc3\xa9"}'
    message = await publish(
        receiver.url("/orders"),
        method="PUT",
        body=body,
        headers={
            "Content-Type": ["application/vnd.test+json; charset=utf-8"],
            "X-Tenant": ["acme"],
        },
    )

    await loop.run_once(clock.now())

    [got] = receiver.requests
    assert got.method == "PUT"
    assert got.body == body
    assert got.headers["User-Agent"] == "Upstash-QStash"
    assert got.headers["Content-Type"] == "application/vnd.test+json; charset=utf-8"
    assert got.headers["X-Tenant"] == "acme"
    assert got.headers["Upstash-Message-Id"] == message.id
    assert got.headers["Upstash-Retried"] == "0"
    assert "Authorization" not in got.headers


async def test_delivery_carries_no_header_the_publisher_did_not_ask_for(
    clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    await publish(receiver.url("/bare"), headers={})

    await loop.run_once(clock.now())

    [got] = receiver.requests
    sent = {name.lower() for name in got.headers}
    assert sent == {
        "host",
        "content-length",
        "user-agent",
        "upstash-message-id",
        "upstash-retried",
        "upstash-signature",
    }


async def test_signature_verifies_with_the_qstash_receiver_and_our_verifier(
    clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    url = receiver.url("/hook?tenant=acme&page=2")
    body = b'{"hello":"world"}'
    await publish(url, body=body)

    await loop.run_once(clock.now())

    [got] = receiver.requests
    assert got.url(receiver.base) == url  # the request went to exactly the stored URL
    signature = got.headers["Upstash-Signature"]
    QStashReceiver(TEST_CURRENT_KEY, TEST_NEXT_KEY).verify(
        signature=signature, body=got.body.decode(), url=url
    )
    claims = Verifier(TEST_CURRENT_KEY, TEST_NEXT_KEY).verify(signature, got.body, url)
    assert claims["sub"] == url
    assert claims["iss"] == "Upstash"
    # Signed with the current key, not the next one.
    jwt.decode(signature, TEST_CURRENT_KEY, algorithms=["HS256"], options={"verify_sub": False})
    with pytest.raises(QStashSignatureError):
        QStashReceiver(TEST_CURRENT_KEY, TEST_NEXT_KEY).verify(
            signature=signature, body=got.body.decode(), url=receiver.url("/hook")
        )
    with pytest.raises(SignatureError):
        Verifier(TEST_NEXT_KEY, TEST_NEXT_KEY).verify(signature, got.body, url)


async def test_each_attempt_gets_a_fresh_token_and_counts_retried(
    clock, settings, receiver, make_loop, publish
):
    loop = await make_loop(settings)
    receiver.replies.extend([Reply(500), Reply(503)])
    url = receiver.url("/retry")
    await publish(url, max_retries=3, retry_delay="1000")

    for _ in range(3):
        assert await loop.run_once(clock.now()) == 1
        clock.advance(timedelta(seconds=1))

    assert [r.headers["Upstash-Retried"] for r in receiver.requests] == ["0", "1", "2"]
    verifier = QStashReceiver(TEST_CURRENT_KEY, TEST_NEXT_KEY)
    token_ids = []
    for got in receiver.requests:
        signature = got.headers["Upstash-Signature"]
        verifier.verify(signature=signature, body=got.body.decode(), url=url)
        token_ids.append(
            Verifier(TEST_CURRENT_KEY, TEST_NEXT_KEY).verify(signature, got.body)["jti"]
        )
    assert len(set(token_ids)) == 3
