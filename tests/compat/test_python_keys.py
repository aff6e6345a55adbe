"""Signing keys with the official Python SDK: ``signing_key.get`` gives the pair that the SDK's
``Receiver`` needs to accept deliveries, and ``signing_key.rotate`` (sync and async clients)
moves signing to the next key so receivers updated after one rotation keep working.

Rotation changes the keys for good, so that test runs on a server of its own.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from qstash import Receiver
from qstash.errors import SignatureError
from qstash.signing_key import SigningKey

from tests.compat.sdk_surface import open_sdk
from tests.compat.signatures import verify_delivery
from tests.receiver import Received

pytestmark = pytest.mark.compat


def check(got: Received, key: str, url: str) -> None:
    """Raises SignatureError unless ``got`` is signed with ``key`` itself."""
    Receiver(key, key).verify(
        signature=got.headers["Upstash-Signature"], body=got.body.decode(), url=url
    )


async def delivery_signed_with(sdk, sink, key: str, path: str, timeout: float = 5.0) -> Received:
    """Publishes until a delivery is signed with ``key`` (a running server may keep signing with
    the previous key for a moment after a rotation) and returns that delivery."""
    deadline = time.monotonic() + timeout
    url = sink.url(path)
    while True:
        published = await sdk.message.publish(url=url, body=f"after rotation {time.time()}")
        message_id = published.message_id
        [got] = await sink.await_for(
            lambda r, m=message_id: r.headers.get("Upstash-Message-Id") == m
        )
        try:
            check(got, key, url)
            return got
        except SignatureError:
            assert time.monotonic() < deadline, "the server never signed with the rotated key"
            await asyncio.sleep(0.2)


async def test_signing_key_get_gives_the_pair_the_receiver_needs(sdk, sink, unique):
    keys = await sdk.signing_key.get()
    assert keys.current.startswith("sig_")
    assert keys.next.startswith("sig_")
    assert keys.current != keys.next
    path = "/" + unique("signed")
    url = sink.url(path)

    await sdk.message.publish_json(url=url, body={"signed": True})

    [got] = await sink.await_for(lambda r: r.path == path)
    verify_delivery(got, keys, url)
    check(got, keys.current, url)
    with pytest.raises(SignatureError):
        check(got, keys.next, url)
    with pytest.raises(SignatureError):
        verify_delivery(got, keys, url + "?other=1")
    tampered = Received(got.method, got.path, got.query, got.headers, got.body + b" ")
    with pytest.raises(SignatureError):
        verify_delivery(tampered, keys, url)


async def test_signing_key_rotate_moves_signing_to_the_next_key(wirepost_servers, sink, unique):
    server = await asyncio.to_thread(wirepost_servers.start)
    try:
        await check_rotations(server.base_url, sink, unique)
    finally:
        await asyncio.to_thread(wirepost_servers.stop, server)


async def check_rotations(base_url: str, sink, unique) -> None:
    path = "/" + unique("rotated")
    url = sink.url(path)
    async with (
        open_sdk(base_url, flavour="sync") as sync_sdk,
        open_sdk(base_url, flavour="async") as async_sdk,
    ):
        original = await sync_sdk.signing_key.get()

        rotated = await sync_sdk.signing_key.rotate()
        assert isinstance(rotated, SigningKey)
        assert rotated.current == original.next
        assert rotated.next not in (original.current, original.next)
        assert await async_sdk.signing_key.get() == rotated
        got = await delivery_signed_with(sync_sdk, sink, rotated.current, path)
        verify_delivery(got, rotated, url)
        verify_delivery(got, original, url)  # receivers not yet updated still accept it

        twice = await async_sdk.signing_key.rotate()
        assert twice.current == rotated.next
        assert await sync_sdk.signing_key.get() == twice
        got = await delivery_signed_with(async_sdk, sink, twice.current, path)
        verify_delivery(got, twice, url)
        verify_delivery(got, rotated, url)
        with pytest.raises(SignatureError):
            verify_delivery(got, original, url)  # two rotations behind: rejected
