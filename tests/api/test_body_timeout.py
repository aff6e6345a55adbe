"""A request body that does not arrive within WIREPOST_BODY_TIMEOUT gets 408 and a closed
connection, on every endpoint that reads a body; the publish it belonged to stores nothing and
gives back its share of the pending-publish budget at once. Bodies sent slowly but in time are
taken. The client is a raw socket, so the body really trickles."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from tests.api.conftest import AUTH, count_rows
from tests.conftest import TEST_TOKEN, wait_until
from wirepost.api.state import STATE

DEST = "http://127.0.0.1:9/hook"


async def _connect(api: TestClient[Any, Any]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    assert api.server.port is not None
    return await asyncio.open_connection("127.0.0.1", api.server.port)


def _head(method: str, path: str, length: int, extra: str = "") -> bytes:
    return (
        f"{method} {path} HTTP/1.1\r\nHost: wirepost\r\nAuthorization: Bearer {TEST_TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n"
    ).encode()


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    status_line, *lines = head.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)}
    body = await reader.readexactly(int(headers["content-length"]))
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize(
    ("method", "path", "extra"),
    [
        ("POST", "/v2/publish/" + DEST, ""),
        ("POST", "/v2/enqueue/orders/" + DEST, ""),
        ("POST", "/v2/batch", ""),
        ("POST", "/v2/schedules/" + DEST, "Upstash-Cron: * * * * *\r\n"),
        ("POST", "/v2/queues/", ""),
        ("POST", "/v2/topics/g/endpoints", ""),
        ("DELETE", "/v2/dlq", ""),
        ("DELETE", "/v2/messages", ""),
    ],
)
async def test_a_body_that_trickles_past_the_timeout_gets_408_and_the_connection_closes(
    make_api, pool, method, path, extra
):
    api = await make_api(body_timeout=timedelta(seconds=0.3))
    reader, writer = await _connect(api)
    try:
        writer.write(_head(method, path, 1000, extra) + b'{"a')  # 997 bytes never come
        status, headers, body = await _response(reader)
    finally:
        writer.close()
    assert status == 408
    assert headers["connection"].lower() == "close"
    error = orjson.loads(body)["error"]
    assert "did not arrive within 0.3 s (WIREPOST_BODY_TIMEOUT)" in error, error
    for table in ("messages", "schedules", "gates", "url_groups"):
        assert await count_rows(pool, table) == 0, table


async def test_a_trickling_publish_gives_back_its_pending_share_and_others_go_on(make_api, pool):
    api = await make_api(body_timeout=timedelta(seconds=1), max_pending_bytes=1500)
    pending = api.server.app[STATE].pending
    path = "/v2/publish/" + DEST
    reader, writer = await _connect(api)
    try:
        writer.write(_head("POST", path, 1000) + b"x")
        await wait_until(lambda: pending.bytes == 1000)
        # Its 1,000 declared bytes leave no room for another 1,000 while it trickles...
        crowded = await api.post(path, headers=AUTH, data=b"y" * 1000)
        assert crowded.status == 503
        # ...and once the timeout ends it, the budget is whole again.
        status, _, _ = await _response(reader)
        assert status == 408
        assert (pending.messages, pending.bytes) == (0, 0)
        after = await api.post(path, headers=AUTH, data=b"y" * 1000)
        assert after.status == 201, await after.text()
    finally:
        writer.close()
    assert await count_rows(pool, "messages") == 1


async def test_a_body_sent_slowly_but_within_the_timeout_is_stored(make_api, pool):
    api = await make_api(body_timeout=timedelta(seconds=5))
    body = b"slow but steady"
    reader, writer = await _connect(api)
    try:
        writer.write(_head("POST", "/v2/publish/" + DEST, len(body)))
        for start in range(0, len(body), 5):
            await asyncio.sleep(0.05)
            writer.write(body[start : start + 5])
        status, _, answer = await _response(reader)
    finally:
        writer.close()
    assert status == 201, answer
    stored = await pool.fetchval("SELECT body FROM messages")
    assert bytes(stored) == body
