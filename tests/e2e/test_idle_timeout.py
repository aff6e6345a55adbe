"""WIREPOST_IDLE_TIMEOUT closes a connection that sits idle, or whose request head trickles in
(a slow-loris client), once that long has passed since it opened or since its last response;
data arriving does not extend it. Raw sockets against a real ``wirepost serve`` process."""

from __future__ import annotations

import asyncio
import time

from tests.e2e.conftest import StartWirepost
from tests.e2e.wirepost_process import TOKEN

HEAD_START = (
    b"POST /v2/publish/http://127.0.0.1:9/hook HTTP/1.1\r\n"
    b"Host: 127.0.0.1\r\n" + f"Authorization: Bearer {TOKEN}\r\n".encode()
)


async def _trickle_until_closed(port: int, seconds: float) -> float | None:
    """Send a request head one header byte every 0.1 s (never finishing it); the seconds until
    the server closed the connection, or None if it was still open after ``seconds``."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    writer.write(HEAD_START)
    try:
        while time.monotonic() - started < seconds:
            writer.write(b"X")
            await writer.drain()
            try:
                data = await asyncio.wait_for(reader.read(1024), timeout=0.1)
            except TimeoutError:
                continue
            if not data:
                return time.monotonic() - started
            raise AssertionError(f"the server answered an unfinished head: {data!r}")
        return None
    except ConnectionResetError:
        return time.monotonic() - started
    finally:
        writer.close()


async def test_a_trickling_request_head_is_cut_off_at_the_idle_timeout(
    db_dsn: str, start_wirepost: StartWirepost
):
    server = await start_wirepost(db_dsn, IDLE_TIMEOUT="1s")
    closed_after = await _trickle_until_closed(server.port, seconds=5)
    assert closed_after is not None, "the trickling connection was still open after 5 s"
    assert 0.9 <= closed_after < 3.0, closed_after


async def test_an_idle_connection_is_closed_after_its_last_response(
    db_dsn: str, start_wirepost: StartWirepost
):
    server = await start_wirepost(db_dsn, IDLE_TIMEOUT="1s")
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=5)
        assert head.startswith(b"HTTP/1.1 200"), head
        answered = time.monotonic()
        length = int(
            next(
                line.split(b":", 1)[1]
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
        )
        await reader.readexactly(length)
        rest = await asyncio.wait_for(reader.read(), timeout=5)  # until the server closes
        assert rest == b""
        assert 0.9 <= time.monotonic() - answered < 3.0
    finally:
        writer.close()


async def test_the_default_idle_timeout_lets_a_slow_head_finish(
    db_dsn: str, start_wirepost: StartWirepost
):
    # The control: with the default (75 s), the same trickle is still open after 3 s.
    server = await start_wirepost(db_dsn)
    assert await _trickle_until_closed(server.port, seconds=3) is None
