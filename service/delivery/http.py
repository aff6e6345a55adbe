"""A lean HTTP/1.1 client for deliveries: asyncio protocols, the httptools parser, keep-alive pools.

Owns one request and its response, with the delivery path's promises: keep-alive pools per
(scheme, host, port) under one bound on open connections; TLS with certificate and host name
checks; connect and total timeouts; no redirects; response bodies read up to a cap, after which
the connection is dropped; the destination guard on every address it connects to; no header but
the caller's plus Host, Content-Length and (``user:pass@`` URLs) Authorization. A request that
fails on a reused connection before any response byte (the server closed it while idle) is sent
once more on a new one (deliveries are at-least-once). It does not judge responses (``dispatch``)
or decide which destinations are allowed (``wirepost.destination``). It raises the errors of
``wirepost.delivery.http_errors`` (``DeliveryError`` and subclasses), with short messages.
``request`` is a coroutine; ``start`` is the same request with a callback, sent on an idle
keep-alive connection without a task (the delivery loop's path). Requests are written once the
running callback is done, together with the others queued meanwhile (``_queue_write``).

The guard's ``wirepost.destination.DestinationRefused`` passes through unchanged.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import ssl
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import NamedTuple, cast

import httptools
from yarl import URL

from wirepost.delivery.http_errors import (
    ConnectError,
    DeliveryError,
    DeliveryTimeout,
    NoResponse,
    ProtocolError,
    RequestError,
    TLSError,
)
from wirepost.delivery.http_protocol import (
    BODY_FRAMING,
    PoolKey,
    RequestHeaders,
    Target,
    request_head,
    target_of,
)
from wirepost.destination import DestinationPolicy

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``await resolve(host, port)``: the addresses to try, in order (tests pass a table)."""
_SWEEP_INTERVAL = 0.05  # seconds between checks of response deadlines
_TARGETS_CACHED = 4096  # URLs whose request targets are kept (most deliveries reuse a few URLs)
_WRITES_TOGETHER = 64  # queued requests written at once at most (see DeliveryClient._queue_write)


class HttpResponse(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # at most the body limit
    truncated: bool = False  # the body was longer than the limit; the rest was not read


async def resolve_with_getaddrinfo(host: str, port: int) -> list[str]:
    """The system resolver's addresses for ``host`` (IPv4 and IPv6), without duplicates."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class DeliveryClient:
    """HTTP/1.1 over keep-alive connections, at most ``limit`` open at once across all hosts;
    a connection idle for ``keepalive_timeout`` seconds is closed (checked every half of it)."""

    def __init__(
        self,
        policy: DestinationPolicy,
        *,
        limit: int = 100,
        ssl_context: ssl.SSLContext | None = None,
        resolver: Resolver | None = None,
        keepalive_timeout: float = 15.0,
    ) -> None:
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        self._policy = policy
        self._limit = limit
        self._ssl = ssl_context if ssl_context is not None else ssl.create_default_context()
        self._resolve = resolver if resolver is not None else resolve_with_getaddrinfo
        self._keepalive_timeout = keepalive_timeout
        self._conns: set[_Connection] = set()  # open, in use or idle
        self._connecting = 0
        self._idle: dict[PoolKey, list[_Connection]] = {}  # most recently used last
        self._waiters: deque[asyncio.Future[None]] = deque()  # requests waiting for a slot
        self._busy: set[_Connection] = set()  # waiting for a response, with a deadline
        self._sweeper: asyncio.TimerHandle | None = None
        self._expirer: asyncio.TimerHandle | None = None  # closes connections idle too long
        self._closed = False
        self._bound_loop: asyncio.AbstractEventLoop | None = None
        self._targets: dict[str, Target] = {}
        self._tasks: set[asyncio.Task[HttpResponse]] = set()  # requests started by start()
        self._unwritten: list[tuple[_Connection, bytes]] = []  # requests queued for writing
        self._write_scheduled = False

    @property
    def open_connections(self) -> int:
        """Connections open now, in use or idle."""
        return len(self._conns)

    @property
    def unwritten_requests(self) -> int:
        """Requests sent but not yet written: they go out once the running callback is done."""
        return len(self._unwritten)

    def _loop(self) -> asyncio.AbstractEventLoop:
        """The loop this client's connections live on, looked up once: on Python 3.11
        ``asyncio.get_running_loop()`` costs a getpid() system call, measured at 5 % of the
        delivery loop's CPU when called a few times per request."""
        if self._bound_loop is None:
            self._bound_loop = asyncio.get_running_loop()
        return self._bound_loop

    async def request(
        self,
        method: str,
        url: URL | str,
        headers: RequestHeaders,
        body: bytes,
        *,
        timeout: float,
        connect_timeout: float,
        body_limit: int,
    ) -> HttpResponse:
        """Send one request and read its response (body capped at ``body_limit`` bytes).

        ``url`` is used as is (already percent-encoded); the request target of a URL given as
        text is worked out once and kept for later requests. ``timeout`` bounds the whole attempt,
        waiting for a free connection included (checked every 50 ms while a response is
        awaited); ``connect_timeout`` bounds resolving, connecting and the TLS handshake.
        """
        if self._closed:
            raise DeliveryError("the delivery client is closed")
        target = target_of(url) if isinstance(url, URL) else self._target(url)
        key = target.key
        data = request_head(method, target, headers, len(body)) + body
        expiry = _Expiry(self._loop().time() + timeout, timeout, connect_timeout)
        return await self._send(key, data, body_limit, method == "HEAD", expiry)

    def start(
        self,
        method: str,
        url: str,
        headers: RequestHeaders,
        body: bytes,
        *,
        timeout: float,
        connect_timeout: float,
        body_limit: int,
        on_done: Callable[[HttpResponse | BaseException], None],
    ) -> None:
        """``request``, with ``on_done(response or the exception request would raise)`` called
        once instead of a coroutine to await. On an idle keep-alive connection (the usual case
        under load) the request is sent without waiting and answered from the response's callback,
        with no task: a task and its coroutines cost 4.4 µs a request, a callback 0.6 µs (batches
        of 400 on uvloop). Otherwise the request runs as a task, as ``request`` does it."""
        try:
            if self._closed:
                raise DeliveryError("the delivery client is closed")
            target = self._target(url)
            data = request_head(method, target, headers, len(body)) + body
        except DeliveryError as exc:
            on_done(exc)
            return
        expiry = _Expiry(self._loop().time() + timeout, timeout, connect_timeout)
        head = method == "HEAD"
        conn = self._take_idle(target.key)
        if conn is None:
            self._in_task(self._send(target.key, data, body_limit, head, expiry), on_done)
            return

        def answered(result: HttpResponse | DeliveryError) -> None:
            if not isinstance(result, DeliveryError):
                self._release(conn)
                on_done(result)
                return
            conn.close()  # as _exchange does after any error
            if isinstance(result, NoResponse) and conn.reused:
                anew = self._exchange_anew(target.key, data, body_limit, head, expiry)
                self._in_task(anew, on_done)  # as request does
            else:
                on_done(result)

        conn.send(data, body_limit, head=head, expiry=expiry, on_done=answered)

    async def _send(
        self, key: PoolKey, data: bytes, body_limit: int, head: bool, expiry: _Expiry
    ) -> HttpResponse:
        """``data`` on an idle or new connection to ``key``, and its response."""
        conn = self._take_idle(key) or await self._acquire(key, expiry, fresh=False)
        try:
            return await self._exchange(conn, data, body_limit, head, expiry)
        except NoResponse:
            if not conn.reused:
                raise
        # The server closed the reused connection as we sent: once more on a new connection.
        return await self._exchange_anew(key, data, body_limit, head, expiry)

    async def _exchange(
        self, conn: _Connection, data: bytes, body_limit: int, head: bool, expiry: _Expiry
    ) -> HttpResponse:
        """One request on ``conn``: released after its response, closed after an error."""
        answer: asyncio.Future[HttpResponse] = self._loop().create_future()
        conn.send(data, body_limit, head=head, expiry=expiry, on_done=_settle(answer))
        try:
            response = await answer
        except BaseException:
            conn.close()
            raise
        self._release(conn)
        return response

    async def _exchange_anew(
        self, key: PoolKey, data: bytes, body_limit: int, head: bool, expiry: _Expiry
    ) -> HttpResponse:
        conn = await self._acquire(key, expiry, fresh=True)
        return await self._exchange(conn, data, body_limit, head, expiry)

    def _in_task(
        self,
        request: Coroutine[object, object, HttpResponse],
        on_done: Callable[[HttpResponse | BaseException], None],
    ) -> None:
        task = self._loop().create_task(request)
        self._tasks.add(task)

        def finished(task: asyncio.Task[HttpResponse]) -> None:
            self._tasks.discard(task)
            if task.cancelled():  # only when the event loop shuts down
                on_done(DeliveryError("request cancelled"))
            else:
                on_done(task.exception() or task.result())

        task.add_done_callback(finished)

    def _target(self, url: str) -> Target:
        target = self._targets.get(url)
        if target is None:
            try:
                parsed = URL(url, encoded=True)
            except ValueError as exc:
                raise RequestError(f"URL cannot be parsed: {exc}") from None
            target = target_of(parsed)
            if len(self._targets) >= _TARGETS_CACHED:
                self._targets.clear()
            self._targets[url] = target
        return target

    async def close(self) -> None:
        """Close every connection; requests in flight fail, later ones raise DeliveryError."""
        self._closed = True
        for timer in (self._sweeper, self._expirer):
            if timer is not None:
                timer.cancel()
        self._sweeper = self._expirer = None
        for conn in list(self._conns):
            conn.close()
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_exception(DeliveryError("the delivery client is closed"))
        await asyncio.sleep(0)  # let the transports finish closing

    def _release(self, conn: _Connection) -> None:
        if conn.reusable() and not self._closed:
            conn.idle_since = self._loop().time()
            self._idle.setdefault(conn.key, []).append(conn)
            if self._expirer is None:
                self._expirer = self._loop().call_later(
                    self._keepalive_timeout / 2, self._close_expired
                )
            self._wake()
        else:
            conn.close()

    async def _acquire(self, key: PoolKey, expiry: _Expiry, *, fresh: bool) -> _Connection:
        while True:
            if self._closed:
                raise DeliveryError("the delivery client is closed")
            if not fresh:
                conn = self._take_idle(key)
                if conn is not None:
                    return conn
            if len(self._conns) + self._connecting < self._limit or self._evict_idle():
                return await self._connect(key, expiry)
            waiter = self._loop().create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(expiry.deadline):
                    await waiter
            except BaseException as exc:
                if waiter.done() and not waiter.cancelled():
                    self._wake()  # we were handed a slot we will not use: pass it on
                if isinstance(exc, TimeoutError):
                    raise expiry.error() from None
                raise

    def _take_idle(self, key: PoolKey) -> _Connection | None:
        stack = self._idle.get(key)
        if not stack:
            return None
        expired = self._loop().time() - self._keepalive_timeout
        while stack:
            conn = stack.pop()
            if conn.reusable() and conn.idle_since > expired:
                return conn
            conn.close()
        return None

    def _close_expired(self) -> None:
        """Close every connection idle for longer than the keep-alive timeout. Each host's
        stack is reused from its top, so after a burst the connections it opened stay at the
        bottom, unused, while the host is busy: without this they would stay open until the
        receiver closed them (up to ``limit`` sockets to one receiver after one backlog)."""
        self._expirer = None
        expired = self._loop().time() - self._keepalive_timeout
        stale: list[_Connection] = []
        for stack in self._idle.values():  # oldest first: the expired ones are a prefix
            keep = next((i for i, c in enumerate(stack) if c.idle_since > expired), len(stack))
            stale += stack[:keep]
            del stack[:keep]
        for conn in stale:
            conn.close()
        if any(self._idle.values()):
            self._expirer = self._loop().call_later(
                self._keepalive_timeout / 2, self._close_expired
            )

    def _evict_idle(self) -> bool:
        """Close the longest-idle connection to any host to make room; False if none is idle."""
        for stack in self._idle.values():
            if stack:
                stack[0].close()
                return True
        return False

    def _forget(self, conn: _Connection) -> None:
        """Called once when a connection closes: free its slot and wake one waiter."""
        self._conns.discard(conn)
        stack = self._idle.get(conn.key)
        if stack is not None and conn in stack:
            stack.remove(conn)
        if not stack:
            self._idle.pop(conn.key, None)
        self._wake()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    def _track(self, conn: _Connection) -> None:
        """Watch ``conn``'s deadline until its response completes (one timer for all)."""
        self._busy.add(conn)
        if self._sweeper is None:
            self._sweeper = self._loop().call_later(_SWEEP_INTERVAL, self._sweep)

    def _queue_write(self, conn: _Connection, data: bytes) -> None:
        """Write ``data`` on ``conn`` once the running callback is done, together with the other
        requests queued meanwhile (at most ``_WRITES_TOGETHER`` wait): a claim starts hundreds
        of deliveries in one go, and writing them back to back rather than between the Python
        that prepares each keeps the receivers from being woken once per request. Measured with
        ``loadtest.client_bench --clients lean``: 66 to 72 instead of 82 to 84 µs of CPU per request
        on a slow 2-core machine, and less for the receiver (docs/benchmarks.md)."""
        self._unwritten.append((conn, data))
        if len(self._unwritten) >= _WRITES_TOGETHER:
            self._write_queued()
        elif not self._write_scheduled:
            self._write_scheduled = True
            self._loop().call_soon(self._write_queued)

    def _write_queued(self) -> None:
        self._write_scheduled = False
        queued, self._unwritten = self._unwritten, []
        for conn, data in queued:
            conn.write(data)

    def _sweep(self) -> None:
        self._sweeper = None
        now = self._loop().time()
        for conn in [conn for conn in self._busy if conn.expiry.deadline <= now]:
            conn.fail(conn.expiry.error())
        if self._busy:
            self._sweeper = self._loop().call_later(_SWEEP_INTERVAL, self._sweep)

    async def _connect(self, key: PoolKey, expiry: _Expiry) -> _Connection:
        self._connecting += 1
        connect_by = self._loop().time() + expiry.connect_timeout
        _, host, port = key
        try:
            async with asyncio.timeout_at(min(connect_by, expiry.deadline)):
                conn = await self._open(key, await self._addresses(host, port))
        except BaseException as exc:
            self._connecting -= 1
            self._wake()  # the slot reserved for this connection is free again
            if isinstance(exc, TimeoutError):
                raise expiry.error(connecting=connect_by < expiry.deadline) from None
            raise
        self._connecting -= 1
        if self._closed:
            conn.close()
            raise DeliveryError("the delivery client is closed")
        self._conns.add(conn)
        return conn

    async def _open(self, key: PoolKey, addresses: Sequence[str]) -> _Connection:
        scheme, host, port = key
        tls = scheme == "https"
        error: OSError | None = None
        for address in addresses:
            try:
                _, conn = await self._loop().create_connection(
                    lambda: _Connection(self, key),
                    address,
                    port,
                    ssl=self._ssl if tls else None,
                    server_hostname=host if tls else None,
                )
            except ssl.SSLError as exc:
                raise TLSError(
                    f"TLS handshake with {_authority(host, port)} failed: {_ssl_reason(exc)}"
                ) from None
            except OSError as exc:
                error = exc
                continue
            return conn
        raise ConnectError(f"cannot connect to {_authority(host, port)}: {_os_reason(error)}")

    async def _addresses(self, host: str, port: int) -> Sequence[str]:
        """Where ``host`` may be reached; DestinationRefused if the guard refuses any of them."""
        self._policy.check_host(host)
        if _is_ip_literal(host):
            return [host]
        try:
            addresses = await self._resolve(host, port)
        except OSError as exc:
            raise ConnectError(f"cannot resolve {host}: {_os_reason(exc)}") from None
        if not addresses:
            raise ConnectError(f"cannot resolve {host}: no addresses")
        for address in addresses:
            self._policy.check_address(host, address)
        return addresses


def _settle(
    answer: asyncio.Future[HttpResponse],
) -> Callable[[HttpResponse | DeliveryError], None]:
    """A connection's ``on_done`` that resolves ``answer`` (unless it was cancelled)."""

    def settle(result: HttpResponse | DeliveryError) -> None:
        if answer.done():
            return
        if isinstance(result, DeliveryError):
            answer.set_exception(result)
        else:
            answer.set_result(result)

    return settle


class _Expiry(NamedTuple):
    """The time limits of one request."""

    deadline: float  # loop.time() by which the whole attempt must be done
    timeout: float
    connect_timeout: float

    def error(self, *, connecting: bool = False) -> DeliveryTimeout:
        if connecting:
            return DeliveryTimeout(f"connect timeout after {self.connect_timeout:g}s")
        return DeliveryTimeout(f"timeout after {self.timeout:g}s")


class _Connection(asyncio.Protocol):
    """One keep-alive connection: writes a request, parses the response with httptools, and
    hands the response (or a DeliveryError) to the request's ``on_done``, once, from the
    callback that completed it: no future, no extra turn of the event loop (a future and the
    callback it schedules cost about a microsecond a request)."""

    def __init__(self, client: DeliveryClient, key: PoolKey) -> None:
        self.key = key
        self.reused = False  # a response completed on it before the current request
        self.idle_since = 0.0
        self._client = client
        self._loop = asyncio.get_running_loop()
        self._transport: asyncio.Transport | None = None
        self._open = True
        self._parser = httptools.HttpResponseParser(self)
        self._on_done: Callable[[HttpResponse | DeliveryError], None] | None = None
        self.expiry = _Expiry(0.0, 0.0, 0.0)
        self._start(0, head=False)

    def _start(self, body_limit: int, *, head: bool) -> None:
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._size = 0
        self._limit = body_limit
        self._head = head
        self._received = False  # any byte of the response
        self._headers_done = False
        self._until_close = False  # the body ends when the server closes
        self._keep_alive = False
        self._completed = False

    def send(
        self,
        data: bytes,
        body_limit: int,
        *,
        head: bool,
        expiry: _Expiry,
        on_done: Callable[[HttpResponse | DeliveryError], None],
    ) -> None:
        self.reused = self._completed
        self._start(body_limit, head=head)
        self.expiry = expiry
        self._on_done = on_done
        if self._transport is None or not self._open:
            self.fail(NoResponse("server closed the connection without a response"))
        else:
            self._client._track(self)
            self._client._queue_write(self, data)

    def write(self, data: bytes) -> None:
        """Write a queued request, unless the connection closed since it was queued: then its
        request has already failed (``close``, ``connection_lost``) and is retried as usual."""
        transport = self._transport
        if self._open and transport is not None and not transport.is_closing():
            transport.write(data)

    def reusable(self) -> bool:
        usable = self._open and self._completed and self._keep_alive
        return usable and self._transport is not None and not self._transport.is_closing()

    def close(self) -> None:
        self._answer(DeliveryError("the delivery client is closed"))
        if self._open:
            self._open = False
            if self._transport is not None:
                self._transport.abort()
            self._client._forget(self)

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._on_done is None:
            self.close()  # bytes nobody asked for: this connection cannot be trusted again
            return
        self._received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.fail(ProtocolError("malformed response: unexpected protocol upgrade"))
        except httptools.HttpParserError as exc:
            reason = str(exc).strip()[:120] or type(exc).__name__
            self.fail(ProtocolError(f"malformed response: {reason}"))

    def eof_received(self) -> bool:
        return False  # close the transport; connection_lost decides what the EOF meant

    def connection_lost(self, exc: Exception | None) -> None:
        if self._open:
            self._open = False
            self._client._forget(self)
        if self._on_done is None:
            return
        if self._headers_done and self._until_close and exc is None:
            self._finish()
        elif not self._received:
            self.fail(NoResponse("server closed the connection without a response"))
        elif exc is None:
            self.fail(ProtocolError("server closed the connection mid-response"))
        else:
            self.fail(ProtocolError("connection reset mid-response"))

    # httptools callbacks: after the response is complete, any further byte is a stray

    def on_message_begin(self) -> None:
        if self._on_done is None:
            self.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self._on_done is None:
            self.close()
            return
        self._status = status = self._parser.get_status_code()
        if status < 200:
            return  # an interim response (100 Continue, 103 Early Hints): skipped
        self._headers_done = True
        self._keep_alive = self._parser.should_keep_alive()
        framed = any(name.lower() in BODY_FRAMING for name, _ in self._headers)
        self._until_close = not framed and status not in (204, 304)
        if self._head:  # httptools cannot skip a HEAD response's body: done, do not reuse
            self._keep_alive = False
            self._finish()

    def on_body(self, body: bytes) -> None:
        if self._on_done is None:
            self.close()
            return
        room = self._limit - self._size
        if len(body) <= room:
            self._body.append(body)
            self._size += len(body)
            return
        self._body.append(body[:room])
        self._size = self._limit
        self._keep_alive = False
        self._finish(truncated=True)
        self.close()  # stop reading: the rest of the body is never buffered

    def on_message_complete(self) -> None:
        if self._on_done is None:
            self.close()
            return
        if self._status < 200:
            self._headers = []
            return
        self._completed = True
        self._finish()

    def _finish(self, *, truncated: bool = False) -> None:
        if self._on_done is None:
            return
        headers = [
            (name.decode("latin-1"), value.decode("utf-8", "replace"))
            for name, value in self._headers
        ]
        self._answer(HttpResponse(self._status, headers, b"".join(self._body), truncated))

    def fail(self, error: DeliveryError) -> None:
        self._answer(error)
        self.close()

    def _answer(self, result: HttpResponse | DeliveryError) -> None:
        """Hand ``result`` to the request's ``on_done``, if it has not had its answer yet. A
        callback that raises is a bug of its caller: reported as asyncio reports an exception
        in a callback, and this connection carries on."""
        on_done, self._on_done = self._on_done, None
        if on_done is None:
            return
        self._client._busy.discard(self)
        try:
            on_done(result)
        except Exception as exc:
            self._loop.call_exception_handler(
                {"message": "a delivery response callback failed", "exception": exc}
            )


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _os_reason(exc: OSError | None) -> str:
    if exc is None:
        return "no address to try"
    if exc.errno is not None and not isinstance(exc, socket.gaierror):
        return os.strerror(exc.errno)
    return exc.strerror or str(exc) or type(exc).__name__


def _ssl_reason(exc: ssl.SSLError) -> str:
    if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
        return f"certificate verify failed: {exc.verify_message}"
    return str(exc.reason or exc)
