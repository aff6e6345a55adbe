"""A TCP proxy for HTTP/1.1 that can lose answers: it forwards each request to the upstream
server, waits for the whole answer, and then, for the first ``drops`` requests, closes the
client's connection instead of passing the answer on. That is a connection lost after the server
acted — the case where a retried publish must not be stored twice.

With ``stalls``, the first ``stalls`` requests reach the upstream without their body, as from a
client whose upload stalled: the upstream's answer (a 408 once its body timeout passes) is passed
on and both connections are closed."""

from __future__ import annotations

import asyncio
import contextlib


async def read_message(reader: asyncio.StreamReader) -> bytes | None:
    """One HTTP/1.1 message with a Content-Length body (or none); None at end of stream."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head + await reader.readexactly(length)


class DroppingProxy:
    def __init__(self, upstream_port: int, drops: int, stalls: int = 0) -> None:
        self.upstream_port = upstream_port
        self.drops = drops
        self.stalls = stalls
        self.requests: list[bytes] = []
        self.port = 0
        self._server: asyncio.Server | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        try:
            while (request := await read_message(reader)) is not None:
                self.requests.append(request)
                if self.stalls > 0:
                    self.stalls -= 1
                    up_writer.write(request[: request.index(b"\r\n\r\n") + 4])
                    if (answer := await read_message(up_reader)) is not None:
                        writer.write(answer)
                        await writer.drain()
                    return
                up_writer.write(request)
                await up_writer.drain()
                answer = await read_message(up_reader)
                if answer is None or self.drops > 0:
                    self.drops -= 1
                    return
                writer.write(answer)
                await writer.drain()
        finally:
            for w in (writer, up_writer):
                w.close()
                with contextlib.suppress(ConnectionError):
                    await w.wait_closed()
