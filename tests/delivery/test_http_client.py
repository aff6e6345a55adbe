"""DeliveryClient against real servers on 127.0.0.1: aiohttp web servers for well-behaved
receivers, raw asyncio servers for the misbehaving ones, a trustme CA for TLS."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trustme
from aiohttp import web
from yarl import URL

from wirepost.delivery.http import DeliveryClient, HttpResponse
from wirepost.delivery.http_errors import (
    ConnectError,
    DeliveryError,
    DeliveryTimeout,
    ProtocolError,
    RequestError,
    TLSError,
)
from wirepost.delivery.http_protocol import request_head, target_of
from wirepost.destination import DestinationPolicy, DestinationRefused

LOOPBACK = DestinationPolicy(allowlist=("127.0.0.1",))


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class WebServer:
    """An aiohttp server that records each request and the client port it came from."""

    def __init__(self) -> None:
        self.app = web.Application()
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.peers: list[int] = []
        self.port = 0
        self.base = ""

    def route(self, path: str, handler: Handler) -> None:
        async def recording(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            self.requests.append((request.method, request.raw_path, dict(request.headers), body))
            assert request.transport is not None
            self.peers.append(request.transport.get_extra_info("peername")[1])
            return await handler(request)

        self.app.router.add_route("*", path, recording)

    @property
    def connections(self) -> int:
        return len(set(self.peers))


@asynccontextmanager
async def web_server(
    setup: Callable[[WebServer], None], ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[WebServer]:
    server = WebServer()
    setup(server)
    runner = web.AppRunner(server.app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start()
    server.port = runner.addresses[0][1]
    server.base = f"http://127.0.0.1:{server.port}"
    try:
        yield server
    finally:
        await runner.cleanup()


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, int], Awaitable[None]]


class RawServer:
    """A raw asyncio server running ``script(reader, writer, connection_index)``."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests = 0
        self.port = 0
        self.done: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        try:
            await self.script(reader, writer, index)
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            self.done.append(type(exc).__name__)
        finally:
            writer.transport.abort()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        """One request's head and body, or None at EOF."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        self.requests += 1
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        return head + await reader.readexactly(length)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"


@asynccontextmanager
async def raw_server(script: Script) -> AsyncIterator[RawServer]:
    server = RawServer(script)
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()
        await listener.wait_closed()


@pytest.fixture
async def client() -> AsyncIterator[DeliveryClient]:
    client = DeliveryClient(LOOPBACK, limit=10)
    yield client
    await client.close()


_ENTRY = {"via": "request"}


@pytest.fixture(autouse=True, params=["request", "start"])
def entry(request: pytest.FixtureRequest) -> None:
    """Every test through both ways in (see ``post``): ``await client.request(...)`` and the
    task-free ``client.start(..., on_done=...)`` that the delivery loop uses."""
    _ENTRY["via"] = request.param


async def post(
    client: DeliveryClient, url: str, body: bytes = b"{}", **options: Any
) -> HttpResponse:
    settings: dict[str, Any] = {"timeout": 5.0, "connect_timeout": 2.0, "body_limit": 1000}
    settings.update(options)
    headers = settings.pop("headers", [("Content-Type", "application/json")])
    method = settings.pop("method", "POST")
    if _ENTRY["via"] == "request":
        return await client.request(method, url, headers, body, **settings)
    done: asyncio.Future[HttpResponse | BaseException] = asyncio.get_running_loop().create_future()
    client.start(method, url, headers, body, on_done=done.set_result, **settings)
    result = await done
    if isinstance(result, BaseException):
        raise result
    return result


def ok(text: str = "ok", status: int = 200, **headers: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=text, status=status, headers=headers)

    return handler


async def test_request_returns_status_headers_and_body(client: DeliveryClient) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=b"got " + await request.read(), status=201, headers={"X-Id": "7"})

    async with web_server(lambda s: s.route("/hook", echo)) as server:
        response = await post(client, f"{server.base}/hook?a=%2F&b=1", b'{"n":1}')
    assert response.status == 201
    assert response.body == b'got {"n":1}'
    assert ("X-Id", "7") in response.headers
    assert not response.truncated
    method, path, headers, body = server.requests[0]
    assert (method, path, body) == ("POST", "/hook?a=%2F&b=1", b'{"n":1}')
    assert headers == {
        "Content-Type": "application/json",
        "Host": f"127.0.0.1:{server.port}",
        "Content-Length": "7",
    }


async def test_request_sends_only_the_callers_headers_plus_host_and_length(
    client: DeliveryClient,
) -> None:
    async with web_server(lambda s: s.route("/hook", ok())) as server:
        await post(
            client,
            f"{server.base}/hook",
            headers={"User-Agent": "Upstash-QStash", "content-length": "999"},
        )
    headers = server.requests[0][2]
    assert headers == {
        "User-Agent": "Upstash-QStash",
        "Host": f"127.0.0.1:{server.port}",
        "Content-Length": "2",
    }


async def test_request_reads_a_chunked_response(client: DeliveryClient) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b"one,", b"two,", b"three"):
            await response.write(part)
        await response.write_eof()
        return response

    async with web_server(lambda s: s.route("/hook", chunked)) as server:
        first = await post(client, f"{server.base}/hook")
        second = await post(client, f"{server.base}/hook")
    assert ("Transfer-Encoding", "chunked") in first.headers
    assert first.body == second.body == b"one,two,three"
    assert server.connections == 1


async def test_request_reads_a_body_that_ends_when_the_server_closes(
    client: DeliveryClient,
) -> None:
    async def until_close(reader: Any, writer: asyncio.StreamWriter, index: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of ")
        await writer.drain()
        writer.write(b"it")
        writer.close()

    async with raw_server(until_close) as server:
        response = await post(client, server.url)
    assert (response.status, response.body) == (200, b"all of it")


async def test_request_does_not_follow_redirects(client: DeliveryClient) -> None:
    def setup(server: WebServer) -> None:
        server.route("/hook", ok("", status=302, Location="/elsewhere"))
        server.route("/elsewhere", ok())

    async with web_server(setup) as server:
        response = await post(client, f"{server.base}/hook")
    assert response.status == 302
    assert ("Location", "/elsewhere") in response.headers
    assert [path for _, path, _, _ in server.requests] == ["/hook"]


async def test_request_caps_the_body_and_drops_the_connection(client: DeliveryClient) -> None:
    async with web_server(lambda s: s.route("/hook", ok("x" * 1_000_000))) as server:
        capped = await post(client, f"{server.base}/hook", body_limit=1000)
        again = await post(client, f"{server.base}/hook", body_limit=2_000_000)
    assert (len(capped.body), capped.truncated) == (1000, True)
    assert (len(again.body), again.truncated) == (1_000_000, False)
    assert server.connections == 2


async def test_request_stops_reading_an_endless_body(client: DeliveryClient) -> None:
    async def endless(reader: Any, writer: asyncio.StreamWriter, index: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"%x\r\n%s\r\n" % (65536, b"y" * 65536)
        for _ in range(100_000):  # 6.5 GB if nobody stopped reading
            writer.write(chunk)
            await writer.drain()

    async with raw_server(endless) as server:
        started = time.monotonic()
        response = await post(client, server.url, body_limit=100_000)
        assert time.monotonic() - started < 2
        for _ in range(100):
            if server.done:
                break
            await asyncio.sleep(0.01)
    assert (len(response.body), response.truncated) == (100_000, True)
    assert server.done == ["ConnectionResetError"]


async def test_body_exactly_at_the_limit_is_whole_and_keeps_the_connection(
    client: DeliveryClient,
) -> None:
    async with web_server(lambda s: s.route("/hook", ok("z" * 1000))) as server:
        for _ in range(2):
            response = await post(client, f"{server.base}/hook", body_limit=1000)
            assert (len(response.body), response.truncated) == (1000, False)
    assert server.connections == 1


async def test_request_reuses_keep_alive_connections(client: DeliveryClient) -> None:
    async with web_server(lambda s: s.route("/hook", ok())) as server:
        for _ in range(5):
            assert (await post(client, f"{server.base}/hook")).status == 200
    assert len(server.requests) == 5
    assert server.connections == 1


async def slow_ok(request: web.Request) -> web.Response:
    await asyncio.sleep(0.05)
    return web.Response(text="ok")


async def test_connections_a_burst_opened_close_once_idle_while_the_host_stays_busy() -> None:
    client = DeliveryClient(LOOPBACK, limit=10, keepalive_timeout=0.2)
    try:
        async with web_server(lambda s: s.route("/hook", slow_ok)) as server:
            url = f"{server.base}/hook"
            await asyncio.gather(*(post(client, url) for _ in range(10)))
            assert client.open_connections == 10
            for _ in range(15):  # one at a time for 0.75 s: the top of the stack is reused
                assert (await post(client, url)).status == 200
            assert client.open_connections == 1
    finally:
        await client.close()


async def test_idle_connections_of_a_quiet_host_close_after_the_keepalive_timeout() -> None:
    client = DeliveryClient(LOOPBACK, limit=10, keepalive_timeout=0.2)
    try:
        async with web_server(lambda s: s.route("/hook", slow_ok)) as server:
            await asyncio.gather(*(post(client, f"{server.base}/hook") for _ in range(3)))
            assert client.open_connections == 3
            await asyncio.sleep(0.1)
            assert client.open_connections == 3
            await asyncio.sleep(0.3)
            assert client.open_connections == 0
            assert (await post(client, f"{server.base}/hook")).status == 200
    finally:
        await client.close()


async def test_connections_are_bounded_by_the_limit() -> None:
    in_flight = peak = 0

    async def slow(request: web.Request) -> web.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.02)
        in_flight -= 1
        return web.Response(text="ok")

    client = DeliveryClient(LOOPBACK, limit=3)
    try:
        async with web_server(lambda s: s.route("/hook", slow)) as server:
            urls = [f"{server.base}/hook"] * 20
            responses = await asyncio.gather(*(post(client, url) for url in urls))
    finally:
        await client.close()
    assert [r.status for r in responses] == [200] * 20
    assert peak == 3
    assert server.connections == 3


async def test_waiter_cancelled_after_being_handed_a_slot_passes_it_on() -> None:
    client = DeliveryClient(LOOPBACK, limit=1)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.1)
        return web.Response(text="ok")

    async def hold_then_cancel(url: str) -> None:
        await post(client, url)  # on return the next waiter has just been handed the slot...
        handed.cancel()  # ...and is cancelled before it could use it

    try:
        async with web_server(lambda s: s.route("/hook", slow)) as server:
            url = f"{server.base}/hook"
            holder = asyncio.create_task(hold_then_cancel(url))
            await asyncio.sleep(0.03)
            handed = asyncio.create_task(post(client, url))
            await asyncio.sleep(0.01)
            started = time.monotonic()
            assert (await post(client, url, timeout=3.0)).status == 200
            assert time.monotonic() - started < 1
            await holder
            assert handed.cancelled()
    finally:
        await client.close()


async def test_idle_connection_to_another_host_is_closed_to_stay_within_the_limit() -> None:
    client = DeliveryClient(LOOPBACK, limit=1)
    try:
        async with (
            web_server(lambda s: s.route("/hook", ok("a"))) as first,
            web_server(lambda s: s.route("/hook", ok("b"))) as second,
        ):
            bodies = [(await post(client, f"{s.base}/hook")).body for s in (first, second, first)]
    finally:
        await client.close()
    assert bodies == [b"a", b"b", b"a"]
    assert (first.connections, second.connections) == (2, 1)


async def test_connection_close_response_is_not_reused(client: DeliveryClient) -> None:
    async with web_server(lambda s: s.route("/hook", ok(Connection="close"))) as server:
        for _ in range(2):
            assert (await post(client, f"{server.base}/hook")).status == 200
    assert server.connections == 2


async def test_server_closing_an_idle_connection_is_noticed(client: DeliveryClient) -> None:
    async def answer_once(reader: Any, writer: asyncio.StreamWriter, index: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d" % index)
        await writer.drain()

    async with raw_server(answer_once) as server:
        first = await post(client, server.url)
        await asyncio.sleep(0.05)  # the server's FIN arrives while the connection is idle
        second = await post(client, server.url)
    assert (first.body, second.body) == (b"0", b"1")
    assert (server.connections, server.requests) == (2, 2)


async def test_reused_connection_closed_before_responding_is_retried_once_on_a_new_one(
    client: DeliveryClient,
) -> None:
    async def close_on_second_request(reader: Any, writer: Any, index: int) -> None:
        while await server.read_request(reader) is not None:
            if index == 0 and server.requests == 2:
                return  # the race: the server gave up on the connection as the request came
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n%d" % index)
            await writer.drain()

    async with raw_server(close_on_second_request) as server:
        first = await post(client, server.url)
        second = await post(client, server.url)
    assert (first.body, second.body) == (b"0", b"1")
    assert (server.connections, server.requests) == (2, 3)


async def test_new_connection_closed_before_responding_is_a_protocol_error(
    client: DeliveryClient,
) -> None:
    async def hang_up(reader: Any, writer: asyncio.StreamWriter, index: int) -> None:
        await server.read_request(reader)

    async with raw_server(hang_up) as server:
        with pytest.raises(ProtocolError, match="without a response"):
            await post(client, server.url)
    assert server.connections == 1


async def test_reset_mid_response_is_a_protocol_error(client: DeliveryClient) -> None:
    async def reset(reader: Any, writer: asyncio.StreamWriter, index: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        await asyncio.sleep(0.05)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    async with raw_server(reset) as server:
        with pytest.raises(ProtocolError, match="reset mid-response"):
            await post(client, server.url)


async def test_close_mid_response_is_a_protocol_error(client: DeliveryClient) -> None:
    async def truncate(reader: Any, writer: asyncio.StreamWriter, index: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async with raw_server(truncate) as server:
        with pytest.raises(ProtocolError, match="closed the connection mid-response"):
            await post(client, server.url)


async def test_garbage_status_line_is_a_protocol_error(client: DeliveryClient) -> None:
    async def garbage(reader: Any, writer: asyncio.StreamWriter, index: int) -> None:
        await server.read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    async with raw_server(garbage) as server:
        with pytest.raises(ProtocolError, match="malformed response"):
            await post(client, server.url)


async def test_interim_responses_are_skipped(client: DeliveryClient) -> None:
    async def early_hints(reader: Any, writer: asyncio.StreamWriter, index: int) -> None:
        await server.read_request(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Final: yes\r\n\r\ndone")
        await writer.drain()
        await asyncio.sleep(1)

    async with raw_server(early_hints) as server:
        response = await post(client, server.url)
    assert (response.status, response.body) == (200, b"done")
    assert [name for name, _ in response.headers] == ["Content-Length", "X-Final"]


async def test_bytes_after_the_response_make_the_connection_unusable(
    client: DeliveryClient,
) -> None:
    async def chatty(reader: Any, writer: asyncio.StreamWriter, index: int) -> None:
        while await server.read_request(reader) is not None:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n")
            await writer.drain()

    async with raw_server(chatty) as server:
        for _ in range(2):
            assert (await post(client, server.url)).body == b"ok"
    assert server.connections == 2


async def test_head_request_returns_without_waiting_for_a_body(client: DeliveryClient) -> None:
    async with web_server(lambda s: s.route("/hook", ok("not sent for HEAD"))) as server:
        response = await post(client, f"{server.base}/hook", b"", method="HEAD", timeout=2.0)
    assert response.status == 200
    assert response.body == b""
    assert server.requests[0][0] == "HEAD"


async def test_slow_response_raises_delivery_timeout(client: DeliveryClient) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.Response()

    async with web_server(lambda s: s.route("/hook", slow)) as server:
        started = time.monotonic()
        with pytest.raises(DeliveryTimeout, match=r"^timeout after 0\.2s$") as caught:
            await post(client, f"{server.base}/hook", timeout=0.2)
        assert time.monotonic() - started < 1
    assert isinstance(caught.value, TimeoutError)


async def test_connect_timeout_covers_resolving_and_connecting() -> None:
    async def never_answers(host: str, port: int) -> list[str]:
        await asyncio.sleep(10)
        return []

    client = DeliveryClient(LOOPBACK, resolver=never_answers)
    try:
        started = time.monotonic()
        with pytest.raises(DeliveryTimeout, match=r"^connect timeout after 0\.1s$"):
            await post(client, "http://hooks.example.test/", connect_timeout=0.1)
        assert time.monotonic() - started < 1
    finally:
        await client.close()


async def test_total_timeout_covers_waiting_for_a_free_connection() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        return web.Response(text="ok")

    client = DeliveryClient(LOOPBACK, limit=1)
    try:
        async with web_server(lambda s: s.route("/hook", slow)) as server:
            holder = asyncio.create_task(post(client, f"{server.base}/hook"))
            await asyncio.sleep(0.05)
            with pytest.raises(DeliveryTimeout):
                await post(client, f"{server.base}/hook", timeout=0.1)
            assert (await holder).status == 200
            assert (await post(client, f"{server.base}/hook")).status == 200
    finally:
        await client.close()
    assert server.connections == 1


async def test_refused_connection_raises_connect_error(client: DeliveryClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectError, match=rf"^cannot connect to 127\.0\.0\.1:{port}: "):
        await post(client, f"http://127.0.0.1:{port}/hook")


async def test_unresolvable_name_raises_connect_error() -> None:
    async def nxdomain(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    client = DeliveryClient(LOOPBACK, resolver=nxdomain)
    try:
        with pytest.raises(ConnectError, match=r"^cannot resolve nowhere\.test: Name or service"):
            await post(client, "http://nowhere.test/hook")
    finally:
        await client.close()


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def server_tls(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def client_tls(ca: trustme.CA | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca is not None:
        ca.configure_trust(context)
    return context


async def to_loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


async def test_tls_with_a_trusted_certificate_succeeds_with_sni(ca: trustme.CA) -> None:
    server_context = server_tls(ca, "receiver.test")
    names: list[str | None] = []
    server_context.sni_callback = lambda sock, name, context: names.append(name)
    client = DeliveryClient(LOOPBACK, ssl_context=client_tls(ca), resolver=to_loopback)
    try:
        async with web_server(lambda s: s.route("/hook", ok("secure")), server_context) as server:
            for _ in range(2):
                response = await post(client, f"https://receiver.test:{server.port}/hook")
                assert (response.status, response.body) == (200, b"secure")
    finally:
        await client.close()
    assert names == ["receiver.test"]
    assert server.connections == 1
    assert server.requests[0][2]["Host"] == f"receiver.test:{server.port}"


async def test_tls_with_an_untrusted_certificate_is_refused(ca: trustme.CA) -> None:
    client = DeliveryClient(LOOPBACK, ssl_context=client_tls(None), resolver=to_loopback)
    try:
        async with web_server(
            lambda s: s.route("/hook", ok()), server_tls(ca, "receiver.test")
        ) as server:
            with pytest.raises(TLSError, match="certificate verify failed") as caught:
                await post(client, f"https://receiver.test:{server.port}/hook")
    finally:
        await client.close()
    assert isinstance(caught.value, ConnectError)
    assert server.requests == []


async def test_tls_certificate_for_another_name_is_refused(ca: trustme.CA) -> None:
    client = DeliveryClient(LOOPBACK, ssl_context=client_tls(ca), resolver=to_loopback)
    try:
        async with web_server(
            lambda s: s.route("/hook", ok()), server_tls(ca, "other.test")
        ) as server:
            with pytest.raises(TLSError, match="Hostname mismatch"):
                await post(client, f"https://receiver.test:{server.port}/hook")
    finally:
        await client.close()
    assert server.requests == []


async def test_default_client_verifies_certificates(ca: trustme.CA) -> None:
    client = DeliveryClient(LOOPBACK, resolver=to_loopback)
    try:
        async with web_server(
            lambda s: s.route("/hook", ok()), server_tls(ca, "receiver.test")
        ) as server:
            with pytest.raises(TLSError):
                await post(client, f"https://receiver.test:{server.port}/hook")
    finally:
        await client.close()


async def test_guard_refuses_a_name_resolving_to_loopback() -> None:
    client = DeliveryClient(DestinationPolicy(), resolver=to_loopback)
    try:
        async with web_server(lambda s: s.route("/hook", ok())) as server:
            with pytest.raises(DestinationRefused) as caught:
                await post(client, f"http://hooks.example.test:{server.port}/hook")
    finally:
        await client.close()
    assert (caught.value.host, caught.value.address) == ("hooks.example.test", "127.0.0.1")
    assert caught.value.reason == "loopback"
    assert server.requests == []


async def test_guard_refuses_a_name_when_any_answer_is_private() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.5"]

    client = DeliveryClient(DestinationPolicy(), resolver=mixed)
    try:
        with pytest.raises(DestinationRefused, match="private"):
            await post(client, "http://hooks.example.test/hook")
    finally:
        await client.close()


async def test_guard_refuses_an_ip_literal() -> None:
    client = DeliveryClient(DestinationPolicy())
    try:
        async with web_server(lambda s: s.route("/hook", ok())) as server:
            with pytest.raises(DestinationRefused, match="loopback"):
                await post(client, f"{server.base}/hook")
    finally:
        await client.close()
    assert server.requests == []


async def test_allowlisted_name_resolves_through_getaddrinfo() -> None:
    client = DeliveryClient(DestinationPolicy(allowlist=("localhost",)))
    try:
        async with web_server(lambda s: s.route("/hook", ok())) as server:
            # the server listens on 127.0.0.1 only; if localhost maps to ::1 too, that fails first
            response = await post(client, f"http://localhost:{server.port}/hook")
    finally:
        await client.close()
    assert response.status == 200


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ([("X-Evil", "a\r\nInjected: yes")], "has a CR, LF or NUL"),
        ([("X-Evil", "a\nb")], "has a CR, LF or NUL"),
        ([("X-Evil", "a\0b")], "has a CR, LF or NUL"),
        ([("Bad Name", "x")], "not a valid HTTP header name"),
        ([("X-Evil\r\nInjected", "x")], "not a valid HTTP header name"),
        ([("", "x")], "not a valid HTTP header name"),
    ],
)
async def test_header_injection_is_refused_before_connecting(
    client: DeliveryClient, headers: list[tuple[str, str]], message: str
) -> None:
    async with web_server(lambda s: s.route("/hook", ok())) as server:
        with pytest.raises(RequestError, match=message):
            await post(client, f"{server.base}/hook", headers=headers)
    assert server.requests == []


def test_request_head_refuses_an_unsafe_method_or_target() -> None:
    with pytest.raises(RequestError, match="not a valid HTTP method"):
        request_head("POST /x HTTP/1.1\r\n", target_of(URL("http://h/")), [], 0)
    with pytest.raises(RequestError, match="percent-encode"):
        target_of(URL("http://h/a b", encoded=True))
    with pytest.raises(RequestError, match="scheme must be http or https"):
        target_of(URL("ftp://h/x"))


def test_request_head_adds_host_length_and_url_credentials() -> None:
    target = target_of(URL("https://u%40x:p%3A@[::1]:8443/p?q=%20", encoded=True))
    head = request_head("POST", target, [], 3)
    assert head.decode().split("\r\n") == [
        "POST /p?q=%20 HTTP/1.1",
        "Host: [::1]:8443",
        "Authorization: Basic dUB4OnA6",  # base64 of "u@x:p:"
        "Content-Length: 3",
        "",
        "",
    ]


def test_request_head_omits_content_length_only_for_empty_bodyless_methods() -> None:
    get = request_head("GET", target_of(URL("http://h/")), {"Host": "virtual.test"}, 0).decode()
    post_ = request_head("POST", target_of(URL("http://h:80/")), {}, 0).decode()
    assert get == "GET / HTTP/1.1\r\nHost: virtual.test\r\n\r\n"
    assert post_ == "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://[::1/hook", "URL cannot be parsed: Invalid IPv6 URL"),
        ("http://h:99999/hook", "URL cannot be parsed: Port out of range"),
        ("ftp://h/hook", "scheme must be http or https"),
        ("http:///hook", "URL has no host"),
    ],
)
async def test_a_url_that_cannot_be_requested_is_a_request_error(
    client: DeliveryClient, url: str, message: str
) -> None:
    for _ in range(2):  # the second time from the client's cache of request targets
        with pytest.raises(RequestError, match=message):
            await post(client, url)


async def test_requests_to_one_url_reuse_its_target_and_connection(client: DeliveryClient) -> None:
    async with web_server(lambda s: s.route("/hook", ok())) as server:
        url = f"{server.base}/hook?x=%20"
        statuses = [(await post(client, url)).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    assert [path for _, path, _, _ in server.requests] == ["/hook?x=%20"] * 3
    assert server.connections == 1


async def test_closed_client_refuses_requests() -> None:
    client = DeliveryClient(LOOPBACK)
    async with web_server(lambda s: s.route("/hook", ok())) as server:
        assert (await post(client, f"{server.base}/hook")).status == 200
        await client.close()
        with pytest.raises(DeliveryError, match="closed"):
            await post(client, f"{server.base}/hook")


def start_one(
    client: DeliveryClient, url: str, on_done: Callable[[HttpResponse | BaseException], None]
) -> None:
    """One POST through the task-free path the delivery loop uses."""
    client.start(
        "POST",
        url,
        [],
        b"{}",
        timeout=5.0,
        connect_timeout=2.0,
        body_limit=1000,
        on_done=on_done,
    )


def start_all(client: DeliveryClient, url: str, count: int) -> list[asyncio.Future[Any]]:
    """``count`` requests started in one go, as a claim starts its deliveries."""
    futures: list[asyncio.Future[Any]] = []
    for _ in range(count):
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        start_one(client, url, done.set_result)
        futures.append(done)
    return futures


async def test_requests_started_together_are_written_together_once_the_caller_is_done() -> None:
    client = DeliveryClient(LOOPBACK, limit=100)
    try:
        async with web_server(lambda s: s.route("/hook", ok())) as server:
            url = f"{server.base}/hook"
            await asyncio.gather(*(post(client, url) for _ in range(70)))  # 70 idle connections
            assert client.open_connections == 70
            few = start_all(client, url, 3)
            assert client.unwritten_requests == 3  # queued until this callback returns
            assert [r.status for r in await asyncio.gather(*few)] == [200, 200, 200]
            assert client.unwritten_requests == 0
            many = start_all(client, url, 65)
            assert client.unwritten_requests == 1  # 64 were written as the 64th was queued
            assert {r.status for r in await asyncio.gather(*many)} == {200}
    finally:
        await client.close()
    assert len(server.requests) == 70 + 3 + 65


async def test_a_request_whose_connection_is_lost_before_it_is_written_goes_on_a_new_one(
    client: DeliveryClient,
) -> None:
    async with web_server(lambda s: s.route("/hook", ok("fine"))) as server:
        url = f"{server.base}/hook"
        await post(client, url)  # one idle keep-alive connection
        (done,) = start_all(client, url, 1)
        (conn,) = client._conns  # the queued request's connection
        transport = conn._transport
        assert transport is not None
        transport.abort()  # lost after the request was queued, before it was written
        response = await done
    assert (response.status, response.body) == (200, b"fine")
    assert server.connections == 2
    assert len(server.requests) == 2


async def test_an_on_done_that_raises_is_reported_and_the_client_carries_on(
    client: DeliveryClient,
) -> None:
    """The response reaches ``on_done`` from the callback that parsed it (no future between
    them): a caller's bug there is reported as asyncio reports a failing callback, and neither
    the connection nor the next request suffers."""
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    answered: list[int] = []

    def broken(result: HttpResponse | BaseException) -> None:
        assert isinstance(result, HttpResponse)
        answered.append(result.status)
        raise RuntimeError("bug in the caller")

    try:
        async with web_server(lambda s: s.route("/hook", ok())) as server:
            url = f"{server.base}/hook"
            await post(client, url)  # an idle keep-alive connection for start() to use
            start_one(client, url, broken)
            deadline = time.monotonic() + 5
            while not reported and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert (await post(client, url)).status == 200
    finally:
        loop.set_exception_handler(None)
    assert answered == [200]
    assert [type(c["exception"]) for c in reported] == [RuntimeError]
    assert server.connections == 1  # the connection went back to the pool and was reused
