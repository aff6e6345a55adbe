"""``wirepost serve`` as a subprocess, driven by the official QStash Python SDK; deliveries are
checked at a real receiver with the SDK's own ``Receiver`` and with ``wirepost_verify``.

The SDK is synchronous (httpx), so its calls run in a thread while the receiver serves on the
test's event loop.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from qstash import Receiver as QStashReceiver
from qstash.errors import QStashError
from qstash.errors import SignatureError as QStashSignatureError

from tests.conftest import wait_until
from tests.receiver import Received, Reply
from wirepost_verify import SignatureError, Verifier

pytestmark = pytest.mark.e2e

SIGNER_REFRESH_SECONDS = 1.0
"""How long a running server may keep signing with the key it had before a rotation."""


def with_id(receiver, message_id: str) -> list[Received]:
    return [r for r in receiver.requests if r.headers.get("Upstash-Message-Id") == message_id]


def check_signature(got: Received, url: str, current: str, next_key: str) -> None:
    signature = got.headers["Upstash-Signature"]
    QStashReceiver(current, next_key).verify(signature=signature, body=got.body.decode(), url=url)
    Verifier(current, next_key).verify(signature, got.body, url)


async def test_sdk_publish_json_is_delivered_signed_and_logged(wirepost, make_sdk, receiver):
    sdk = make_sdk(wirepost.base_url)
    keys = await asyncio.to_thread(sdk.signing_key.get)
    assert keys.current.startswith("sig_")
    assert keys.next.startswith("sig_")
    assert keys.current != keys.next
    url = receiver.url("/orders?tenant=acme")

    published = await asyncio.to_thread(
        sdk.message.publish_json,
        url=url,
        body={"order": 7, "items": ["a", "b"]},
        headers={"X-Tenant": "acme"},
        retries=2,
    )
    await wait_until(lambda: with_id(receiver, published.message_id))

    [got] = with_id(receiver, published.message_id)
    assert got.method == "POST"
    assert got.path == "/orders"
    assert got.query == "tenant=acme"
    assert json.loads(got.body) == {"order": 7, "items": ["a", "b"]}
    assert got.headers["Content-Type"] == "application/json"
    assert got.headers["X-Tenant"] == "acme"
    assert got.headers["User-Agent"] == "Upstash-QStash"
    assert got.headers["Upstash-Retried"] == "0"
    assert "Authorization" not in got.headers
    check_signature(got, url, keys.current, keys.next)
    Verifier(keys.current, keys.current).verify(got.headers["Upstash-Signature"], got.body, url)

    message = await asyncio.to_thread(sdk.message.get, published.message_id)
    assert message.url == url
    assert message.max_retries == 2

    async def logged_delivered() -> bool:
        logs = await asyncio.to_thread(sdk.log.list, filter={"message_id": published.message_id})
        return "DELIVERED" in {log.state.value for log in logs.logs}

    await wait_until(logged_delivered, timeout=5)
    logs = await asyncio.to_thread(sdk.log.list, filter={"message_id": published.message_id})
    assert sorted(log.state.value for log in logs.logs) == ["ACTIVE", "CREATED", "DELIVERED"]
    assert {log.message_id for log in logs.logs} == {published.message_id}


async def test_sdk_delay_holds_a_message_and_cancel_drops_it(wirepost, make_sdk, receiver):
    sdk = make_sdk(wirepost.base_url)
    loop = asyncio.get_running_loop()
    started = loop.time()
    kept = await asyncio.to_thread(
        sdk.message.publish_json, url=receiver.url("/kept"), body={"n": 1}, delay="2s"
    )
    dropped = await asyncio.to_thread(
        sdk.message.publish_json, url=receiver.url("/dropped"), body={"n": 2}, delay="2s"
    )
    held = await asyncio.to_thread(sdk.message.get, kept.message_id)
    assert 1900 <= held.not_before - held.created_at <= 2100

    await asyncio.to_thread(sdk.message.cancel, dropped.message_id)
    with pytest.raises(QStashError):
        await asyncio.to_thread(sdk.message.cancel, dropped.message_id)  # nothing left to cancel

    await wait_until(lambda: with_id(receiver, kept.message_id), timeout=10)
    assert loop.time() - started >= 1.9
    await asyncio.sleep(0.5)  # "dropped" was due at the same moment as "kept"
    assert with_id(receiver, dropped.message_id) == []
    assert len(receiver.requests) == 1


async def test_sdk_dlq_holds_an_exhausted_message_until_deleted(wirepost, make_sdk, receiver):
    sdk = make_sdk(wirepost.base_url)
    receiver.default = Reply(500, b"cannot take it")
    published = await asyncio.to_thread(
        sdk.message.publish_json,
        url=receiver.url("/fail"),
        body={"x": 1},
        retries=1,
        retry_delay="100",
    )

    async def dead_lettered() -> bool:
        listing = await asyncio.to_thread(sdk.dlq.list)
        return any(m.message_id == published.message_id for m in listing.messages)

    await wait_until(dead_lettered, timeout=10)
    assert [r.headers["Upstash-Retried"] for r in with_id(receiver, published.message_id)] == [
        "0",
        "1",
    ]
    [entry] = (await asyncio.to_thread(sdk.dlq.list)).messages
    assert entry.response_status == 500
    assert entry.response_body == "cannot take it"
    assert entry.max_retries == 1
    fetched = await asyncio.to_thread(sdk.dlq.get, entry.dlq_id)
    assert fetched.message_id == published.message_id
    assert fetched.url == receiver.url("/fail")
    assert fetched.retry_delay_expression == "100"

    await asyncio.to_thread(sdk.dlq.delete, entry.dlq_id)
    assert (await asyncio.to_thread(sdk.dlq.list)).messages == []
    with pytest.raises(QStashError):
        await asyncio.to_thread(sdk.dlq.get, entry.dlq_id)


async def test_sdk_key_rotation_moves_signing_to_the_next_key(wirepost, make_sdk, receiver):
    sdk = make_sdk(wirepost.base_url)
    old = await asyncio.to_thread(sdk.signing_key.get)
    url = receiver.url("/keys")

    rotated = await asyncio.to_thread(sdk.signing_key.rotate)

    assert rotated.current == old.next
    assert rotated.next not in (old.current, old.next)
    assert await asyncio.to_thread(sdk.signing_key.get) == rotated
    # Right after a rotation a delivery verifies with the pair receivers held before it...
    first = await asyncio.to_thread(sdk.message.publish_json, url=url, body={"n": 1})
    await wait_until(lambda: with_id(receiver, first.message_id))
    check_signature(with_id(receiver, first.message_id)[0], url, old.current, old.next)
    # ...and once running servers have picked the rotation up, it is signed with the new current
    # key: the rotated pair verifies it, the retired key alone does not.
    await asyncio.sleep(SIGNER_REFRESH_SECONDS + 0.2)
    second = await asyncio.to_thread(sdk.message.publish_json, url=url, body={"n": 2})
    await wait_until(lambda: with_id(receiver, second.message_id))
    [got] = with_id(receiver, second.message_id)
    check_signature(got, url, rotated.current, rotated.next)
    Verifier(rotated.current, rotated.current).verify(got.headers["Upstash-Signature"], got.body)
    with pytest.raises(QStashSignatureError):
        QStashReceiver(old.current, old.current).verify(
            signature=got.headers["Upstash-Signature"], body=got.body.decode(), url=url
        )
    with pytest.raises(SignatureError):
        Verifier(old.current, old.current).verify(got.headers["Upstash-Signature"], got.body)
