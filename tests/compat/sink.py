"""A real HTTP receiver that serves from its own thread, so synchronous SDK calls, asynchronous
SDK calls and Node subprocesses can all deliver to it while a test waits.

Replies are chosen by path: ``/status/<code>/...`` answers ``<code>`` (body ``status <code>``),
every other path answers 200 ``ok``. Every request is recorded, in arrival order.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from aiohttp import web

from tests.receiver import Received

Predicate = Callable[[Received], bool]


class Sink:
    """``start()`` binds 127.0.0.1:<free port>; ``stop()`` closes it and its thread."""

    def __init__(self) -> None:
        self.port = 0
        self._requests: list[Received] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/hook") -> str:
        return self.base + path

    def received(self, predicate: Predicate | None = None) -> list[Received]:
        with self._lock:
            return [r for r in self._requests if predicate is None or predicate(r)]

    def wait_for(
        self, predicate: Predicate, count: int = 1, timeout: float = 10.0
    ) -> list[Received]:
        """Block until at least ``count`` recorded requests match; returns all that match."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.received(predicate)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} expected requests in {timeout}s")
            time.sleep(0.02)

    async def await_for(
        self, predicate: Predicate, count: int = 1, timeout: float = 10.0
    ) -> list[Received]:
        """``wait_for`` for coroutines: polls without blocking the caller's event loop."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.received(predicate)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(found)} of {count} expected requests in {timeout}s")
            await asyncio.sleep(0.02)

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        got = Received(
            request.method, request.path, request.query_string, dict(request.headers), body
        )
        with self._lock:
            self._requests.append(got)
        parts = request.path.split("/")
        if len(parts) > 2 and parts[1] == "status" and parts[2].isdigit():
            code = int(parts[2])
            return web.Response(status=code, text=f"status {code}")
        return web.Response(status=200, text="ok")

    async def _serve(self, ready: threading.Event) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        ready.set()

    def start(self) -> None:
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            serving = loop.create_task(self._serve(ready))
            loop.run_forever()
            serving.cancel()

        self._thread = threading.Thread(target=run, name="compat-sink", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise AssertionError("the sink did not start within 10 s")

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None
