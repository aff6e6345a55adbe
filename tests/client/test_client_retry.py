"""Retries of transport errors: a refused connection is retried for every call; a connection
lost after the request went out is retried only for calls that are harmless to repeat, which
publishes are thanks to their deduplication id."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from aiohttp import web

from tests.api.conftest import AUTH
from tests.client.conftest import FAST_RETRY, client_for
from tests.client.dropping_proxy import DroppingProxy
from tests.conftest import wait_until
from tests.e2e.wirepost_process import free_port
from wirepost.api.state import STATE
from wirepost.app import build_app
from wirepost_client import RetryPolicy, WirepostConnectionError, WirepostError

HOOK = "http://127.0.0.1:9/hook"


def idempotency_ids(proxy: DroppingProxy) -> list[str]:
    """The Upstash-Deduplication-Id of each request that passed the proxy."""
    found = []
    for request in proxy.requests:
        for line in request.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.lower() == b"upstash-deduplication-id":
                found.append(value.strip().decode())
    return found


@pytest.fixture
async def proxy(server):
    port = int(server.rsplit(":", 1)[1])
    p = DroppingProxy(port, drops=1)
    await p.start()
    yield p
    await p.stop()


async def test_retry_off_fails_at_once_on_a_refused_connection(mode):
    nobody = f"http://127.0.0.1:{free_port()}"
    async with client_for(mode, nobody, retry=False) as wp:
        started = time.monotonic()
        with pytest.raises(WirepostConnectionError) as caught:
            await wp.publish(HOOK, "x")

    assert caught.value.status == 0
    assert "after 1 attempt(s)" in caught.value.message
    assert "ConnectError" in caught.value.message
    assert time.monotonic() - started < 2


async def test_retry_gives_up_after_the_policys_retries(mode):
    nobody = f"http://127.0.0.1:{free_port()}"
    async with client_for(mode, nobody, retry=RetryPolicy(**FAST_RETRY)) as wp:
        with pytest.raises(WirepostConnectionError, match="after 4 attempt"):
            await wp.keys.get()


async def test_retry_publish_succeeds_once_the_server_comes_up(mode, make_settings, clock, pool):
    port = free_port()
    patient = RetryPolicy(retries=50, initial_delay=0.02, max_delay=0.05)
    runner = web.AppRunner(build_app(make_settings(run_delivery=False, run_scheduler=False)))
    async with client_for(mode, f"http://127.0.0.1:{port}", retry=patient) as wp:
        publishing = asyncio.create_task(wp.publish(HOOK, "late", deduplication_id="order-9"))
        await asyncio.sleep(0.3)  # several refused attempts
        assert not publishing.done()
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
            published = await publishing
            again = await wp.publish(HOOK, "late", deduplication_id="order-9")
        finally:
            await runner.cleanup()

    assert not published.deduplicated
    assert again.deduplicated
    assert again.message_id == published.message_id
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1


async def test_retry_publish_after_a_lost_answer_is_stored_once(mode, proxy, pool):
    async with client_for(mode, proxy.base, retry=RetryPolicy(**FAST_RETRY)) as wp:
        published = await wp.publish(HOOK, "once")

    ids = idempotency_ids(proxy)
    assert len(ids) == 2
    assert ids[0] == ids[1]
    assert published.deduplicated  # the first attempt was stored; its answer was lost
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1
    assert await pool.fetchval("SELECT id FROM messages") == published.message_id


async def test_retry_batch_after_a_lost_answer_is_stored_once(mode, proxy, pool):
    async with client_for(mode, proxy.base, retry=RetryPolicy(**FAST_RETRY)) as wp:
        answers = await wp.batch([{"destination": HOOK, "body": "a"}, {"destination": HOOK}])

    assert len(proxy.requests) == 2
    assert all(a.deduplicated for a in answers)
    assert await pool.fetchval("SELECT count(*) FROM messages") == 2


async def test_retry_not_idempotent_publish_is_not_repeated_after_a_lost_answer(mode, proxy, pool):
    async with client_for(mode, proxy.base, retry=RetryPolicy(**FAST_RETRY)) as wp:
        with pytest.raises(WirepostConnectionError, match="not retried") as caught:
            await wp.publish(HOOK, "maybe", idempotent=False)

    assert "RemoteProtocolError" in caught.value.message
    assert len(proxy.requests) == 1
    assert idempotency_ids(proxy) == []
    assert await pool.fetchval("SELECT count(*) FROM messages") == 1  # the server did store it


async def test_retry_reads_are_repeated_after_a_lost_answer(mode, proxy):
    async with client_for(mode, proxy.base, retry=RetryPolicy(**FAST_RETRY)) as wp:
        assert await wp.queues.list() == []

    assert len(proxy.requests) == 2


async def test_a_publish_turned_away_with_retry_after_is_sent_again_after_it(
    mode, make_api, pool, messages_locked
):
    api = await make_api(run_scheduler=False, max_pending_messages=1)
    base = str(api.make_url("")).rstrip("/")
    pending = api.server.app[STATE].pending
    held = asyncio.create_task(api.post("/v2/publish/" + HOOK, headers=AUTH, data=b"held"))
    await wait_until(lambda: pending.messages == 1)
    async with client_for(mode, base, retry=RetryPolicy(**FAST_RETRY)) as wp:
        started = time.monotonic()
        publishing = asyncio.create_task(wp.publish(HOOK, "turned away"))
        await asyncio.sleep(0.3)  # the first attempt was answered 503, Retry-After: 1
        await messages_locked.execute("ROLLBACK")
        assert (await held).status == 201
        published = await publishing

    assert time.monotonic() - started >= 1.0  # waited as Retry-After asked, not FAST_RETRY's 10 ms
    assert await pool.fetchval("SELECT body FROM messages WHERE id = $1", published.message_id)
    assert await pool.fetchval("SELECT count(*) FROM messages") == 2


async def test_without_retries_a_turned_away_call_raises_the_503(mode, make_api, messages_locked):
    api = await make_api(run_scheduler=False, max_pending_messages=1)
    base = str(api.make_url("")).rstrip("/")
    pending = api.server.app[STATE].pending
    held = asyncio.create_task(api.post("/v2/publish/" + HOOK, headers=AUTH, data=b"held"))
    await wait_until(lambda: pending.messages == 1)
    async with client_for(mode, base, retry=False) as wp:
        with pytest.raises(WirepostError) as caught:
            await wp.publish(HOOK, "turned away")
    await messages_locked.execute("ROLLBACK")
    await held

    assert caught.value.status == 503
    assert "WIREPOST_MAX_PENDING_MESSAGES=1" in caught.value.message


async def test_a_call_whose_body_stalled_is_sent_again_after_the_408(mode, make_api, pool):
    api = await make_api(run_scheduler=False, body_timeout=timedelta(seconds=0.2))
    assert api.server.port is not None
    stalling = DroppingProxy(api.server.port, drops=0, stalls=1)
    await stalling.start()
    try:
        async with client_for(mode, stalling.base, retry=RetryPolicy(**FAST_RETRY)) as wp:
            published = await wp.publish(HOOK, "second time lucky")
        async with client_for(mode, stalling.base, retry=False) as wp:
            stalling.stalls = 1
            with pytest.raises(WirepostError) as caught:
                await wp.publish(HOOK, "no second try")
    finally:
        await stalling.stop()

    assert len(stalling.requests) == 3
    assert caught.value.status == 408
    assert "WIREPOST_BODY_TIMEOUT" in caught.value.message
    stored = await pool.fetch("SELECT id, body FROM messages")
    assert [(r["id"], bytes(r["body"])) for r in stored] == [
        (published.message_id, b"second time lucky")
    ]
