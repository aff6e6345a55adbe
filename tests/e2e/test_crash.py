"""Crash safety: ``kill -9`` the server while it delivers (and while clients publish), restart
it, and every message whose publish was answered 2xx still arrives; duplicates come only from
attempts that were in flight when the process died."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Iterable

import aiohttp
import asyncpg
import pytest

from tests.conftest import wait_until
from tests.e2e.wirepost_process import TOKEN, free_port
from tests.receiver import Receiver, Reply

pytestmark = pytest.mark.e2e

CRASH_SETTINGS = {"LEASE": "2s", "DELIVERY_CONCURRENCY": "10"}
AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def publish_one(
    http: aiohttp.ClientSession, base_url: str, destination: str, n: int, delay: str | None
) -> str | None:
    """The message id if the server answered 2xx, else None (any error counts as not accepted)."""
    headers = {**AUTH, "Content-Type": "application/json"}
    if delay:
        headers["Upstash-Delay"] = delay
    try:
        async with http.post(
            f"{base_url}/v2/publish/{destination}",
            data=f'{{"n": {n}}}',
            headers=headers,
            timeout=aiohttp.ClientTimeout(total=5),
        ) as resp:
            if 200 <= resp.status < 300:
                message_id: str = (await resp.json())["messageId"]
                return message_id
            return None
    except (aiohttp.ClientError, TimeoutError):
        return None


def arrivals(receiver: Receiver, start: int = 0, end: int | None = None) -> list[str]:
    return [r.headers["Upstash-Message-Id"] for r in receiver.requests[start:end]]


def missing(accepted: Iterable[str], receiver: Receiver) -> set[str]:
    return set(accepted) - set(arrivals(receiver))


async def test_kill_9_mid_delivery_loses_no_accepted_message(db_dsn, start_wirepost, receiver):
    receiver.default = Reply(200, delay=0.25)  # 10 in flight at 0.25 s: about 40 a second
    port = free_port()
    server = await start_wirepost(db_dsn, port=port, **CRASH_SETTINGS)
    destination = receiver.url("/crash")
    async with aiohttp.ClientSession() as http:
        ids = await asyncio.gather(
            *(
                publish_one(
                    http,
                    server.base_url,
                    destination,
                    n,
                    ("1s", "2s")[n % 2] if n % 5 == 0 else None,
                )
                for n in range(200)
            )
        )
    accepted = {message_id for message_id in ids if message_id is not None}
    assert len(accepted) == len(ids), "a publish failed while the server was healthy"
    assert len(accepted) == 200

    await wait_until(lambda: len(receiver.requests) >= 40, timeout=20)
    server.kill()
    await asyncio.sleep(0.3)  # let the receiver finish reading what the dead process had sent
    before_restart = len(receiver.requests)
    conn = await asyncpg.connect(db_dsn)
    try:
        pending = {r["message_id"] for r in await conn.fetch("SELECT message_id FROM deliveries")}
    finally:
        await conn.close()
    assert pending, "everything was delivered before the kill: the test proved nothing"
    assert pending <= accepted

    await start_wirepost(db_dsn, port=port, **CRASH_SETTINGS)
    await wait_until(lambda: not missing(accepted, receiver), timeout=30)
    await asyncio.sleep(0.5)  # anything still to come would be a duplicate

    counts = collections.Counter(arrivals(receiver))
    first_life = set(arrivals(receiver, end=before_restart))
    second_life = arrivals(receiver, start=before_restart)
    assert set(counts) == accepted
    # Recorded as delivered before the crash: never sent again.
    assert not (set(second_life) - pending)
    # The restarted server sends each message at most once.
    assert len(second_life) == len(set(second_life))
    # A duplicate is a message that was in flight (sent, outcome not yet recorded) at the kill.
    duplicates = {message_id for message_id, n in counts.items() if n > 1}
    assert duplicates <= first_life & pending
    assert max(counts.values()) <= 2
    assert len(duplicates) <= 2 * int(CRASH_SETTINGS["DELIVERY_CONCURRENCY"])


async def test_publishes_answered_2xx_survive_a_kill_9_during_publishing(
    db_dsn, start_wirepost, receiver
):
    port = free_port()
    server = await start_wirepost(db_dsn, port=port, **CRASH_SETTINGS)
    destination = receiver.url("/publish-crash")
    accepted: list[str] = []
    refused = 0
    accepted_at_restart: int | None = None
    restarted = asyncio.Event()

    async def publisher(worker: int, http: aiohttp.ClientSession) -> None:
        nonlocal refused
        deadline = time.monotonic() + 15
        n = worker * 10_000
        while time.monotonic() < deadline:
            n += 1
            message_id = await publish_one(http, server.base_url, destination, n, None)
            if message_id is None:
                refused += 1
                await asyncio.sleep(0.02)
            else:
                accepted.append(message_id)
            if (
                restarted.is_set()
                and accepted_at_restart is not None
                and (len(accepted) - accepted_at_restart >= 100)
            ):
                return

    async with aiohttp.ClientSession() as http:
        workers = [asyncio.create_task(publisher(w, http)) for w in range(4)]
        await wait_until(lambda: len(accepted) >= 100, timeout=10)
        server.kill()
        await asyncio.sleep(0.2)
        accepted_at_restart = len(accepted)
        await start_wirepost(db_dsn, port=port, **CRASH_SETTINGS)
        restarted.set()
        await asyncio.wait_for(asyncio.gather(*workers), timeout=30)

    assert refused > 0, "no publish failed: the kill did not happen during publishing"
    assert len(accepted) - accepted_at_restart >= 100
    await wait_until(lambda: not missing(accepted, receiver), timeout=30)
