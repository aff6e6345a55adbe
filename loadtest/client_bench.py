"""Outbound client benchmark: the HTTP clients that could carry deliveries, side by side.

Every client POSTs the same small signed-looking request (the headers dispatch builds, a real
Upstash-Signature JWT) to a local receiver in a separate process, with the same number of
requests in flight, and reads each response body. Runs alternate between the clients so drift in
machine load hits all alike. The clients: aiohttp's ClientSession (tuned as Wirepost used it),
Wirepost's DeliveryClient, and, when installed (`pip install -r loadtest/requirements-clients.txt`),
aiosonic, pyreqwest (Rust reqwest) and curl_cffi (libcurl); each configured as a delivery needs:
no redirects, a total timeout, a connection pool as large as the number in flight.

    python -m loadtest.client_bench                        # N = 20,000, 100 in flight, 3 runs each
    python -m loadtest.client_bench --receiver aiohttp     # an aiohttp web receiver instead
    python -m loadtest.client_bench --sign-each            # sign + build headers per request too
    python -m loadtest.client_bench --clients lean,pyreqwest
    python -m loadtest.client_bench --clients dispatcher   # Wirepost's whole attempt path

``dispatcher`` sends through ``Dispatcher.attempt``, exactly as the delivery loop does (sign,
build the headers, send with DeliveryClient, classify the response), so it always signs.

``--sign-each`` does per request what ``Dispatcher.send`` does besides the HTTP exchange (build
the headers, mint a JWT, convert the response headers), so the rate is that of the delivery path
without the database. The receiver is either a minimal httptools server (``raw``, default: it
is several times faster than any client here, so it never limits the result) or an aiohttp
``web`` app like the loadtest sink without signature checks. Only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import aiohttp
import httptools
import uvloop
from yarl import URL

from wirepost.clock import SystemClock
from wirepost.config import Settings
from wirepost.delivery.dispatch import Dispatcher, request_headers
from wirepost.delivery.http import DeliveryClient
from wirepost.destination import DestinationPolicy
from wirepost.domain import Claimed, Delivered, Headers, Message, canonical_header
from wirepost.signing import DEV_CURRENT_SIGNING_KEY, Signer

BODY = b'{"t":1764000000000000000,"seq":12345,"note":"hello from the client benchmark"}'
BODY_LIMIT = 1 << 20
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
POLICY = DestinationPolicy(allowlist=("127.0.0.1",))

# ---------------------------------------------------------------- receivers (child process)

_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"


class _RawReceiver(asyncio.Protocol):
    """Answers every request with 200 "ok" on a keep-alive connection (no verification)."""

    def __init__(self) -> None:
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError:
            if self._transport is not None:
                self._transport.close()

    def on_message_complete(self) -> None:
        if self._transport is not None:
            self._transport.write(_RESPONSE)


async def _serve(kind: str) -> None:
    loop = asyncio.get_running_loop()
    if kind == "raw":
        server = await loop.create_server(_RawReceiver, "127.0.0.1", 0, backlog=1024)
        port = server.sockets[0].getsockname()[1]
    else:
        from aiohttp import web

        async def receive(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_post("/{tail:.*}", receive)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0, backlog=1024).start()
        port = runner.addresses[0][1]
    print(port, flush=True)
    await loop.run_in_executor(None, sys.stdin.read)  # until the parent closes our stdin


# ---------------------------------------------------------------- clients (parent process)

Send = Callable[[], Awaitable[int]]
Opened = tuple[Send, Callable[[], Awaitable[object]]]  # send one request; close the client


def _message(url: str) -> Message:
    now = datetime.now(UTC)
    return Message(
        id="msg_26hZCxZCuWyyTWPmSVBrNCtiJNaP",
        url=url,
        method="POST",
        headers={"Content-Type": ["application/json"], "X-Bench": ["1"]},
        body=BODY,
        max_retries=3,
        not_before=now,
        created_at=now,
    )


def _headers(message: Message, signer: Signer) -> list[tuple[str, str]]:
    """What dispatch sends (a CIMultiDict or a list of pairs, depending on its version)."""
    signature = signer.sign(url=message.url, body=message.body, now=int(time.time()))
    headers = request_headers(message, 0, signature)
    return list(headers.items() if isinstance(headers, Mapping) else headers)


def _response_headers(pairs: Iterable[tuple[str, str]]) -> Headers:
    """What dispatch stores of a response's headers."""
    out: Headers = {}
    for name, value in pairs:
        out.setdefault(canonical_header(name), []).append(value)
    return out


def _aiohttp_session(limit: int) -> aiohttp.ClientSession:
    """aiohttp as Wirepost used it for deliveries before DeliveryClient (its SSRF-guarding
    resolver, since removed, only ran on new connections and is left out here)."""
    connector = aiohttp.TCPConnector(limit=limit, ttl_dns_cache=10, enable_cleanup_closed=True)
    return aiohttp.ClientSession(
        connector=connector,
        trust_env=False,
        cookie_jar=aiohttp.DummyCookieJar(),
        skip_auto_headers=("User-Agent",),
    )


class _Request:
    """What every client sends: the same message, signed once or per request."""

    def __init__(self, url: str, sign_each: bool) -> None:
        self.message = _message(url)
        self.sign_each = sign_each
        self._signer = Signer(DEV_CURRENT_SIGNING_KEY)
        self._fixed = _headers(self.message, self._signer)

    def headers(self) -> list[tuple[str, str]]:
        return _headers(self.message, self._signer) if self.sign_each else self._fixed

    def answered(self, status: int, headers: Iterable[tuple[str, str]]) -> int:
        if self.sign_each:
            _response_headers(headers)  # what dispatch keeps of a response
        return status


async def aiohttp_client(url: str, args: argparse.Namespace) -> Opened:
    session = _aiohttp_session(args.in_flight)
    request = _Request(url, args.sign_each)
    target = URL(url, encoded=True)
    timeout = aiohttp.ClientTimeout(total=30.0, connect=30.0)

    async def send() -> int:
        async with session.request(
            "POST",
            target,
            data=BODY,
            allow_redirects=False,
            timeout=timeout,
            headers=request.headers(),
        ) as resp:
            size = 0
            while size < BODY_LIMIT:
                chunk = await resp.content.read(BODY_LIMIT - size)
                if not chunk:
                    break
                size += len(chunk)
            return request.answered(resp.status, resp.headers.items())

    return send, session.close


async def lean_client(url: str, args: argparse.Namespace) -> Opened:
    client = DeliveryClient(POLICY, limit=args.in_flight)
    request = _Request(url, args.sign_each)
    target = URL(url, encoded=True)

    async def send() -> int:
        response = await client.request(
            "POST",
            target,
            request.headers(),
            BODY,
            timeout=30.0,
            connect_timeout=30.0,
            body_limit=BODY_LIMIT,
        )
        return request.answered(response.status, response.headers)

    return send, client.close


async def dispatcher_client(url: str, args: argparse.Namespace) -> Opened:
    client = DeliveryClient(POLICY, limit=args.in_flight)
    dispatcher = Dispatcher(client, Settings())
    claimed = Claimed(_message(url), claims=1, retried=0)
    signer, clock = Signer(DEV_CURRENT_SIGNING_KEY), SystemClock()

    async def send() -> int:
        outcome = await dispatcher.attempt(claimed, signer, clock)
        return outcome.response.status if isinstance(outcome, Delivered) else 0

    return send, client.close


async def aiosonic_client(url: str, args: argparse.Namespace) -> Opened:
    import aiosonic  # type: ignore[import-not-found, unused-ignore]
    from aiosonic.pools import PoolConfig  # type: ignore[import-not-found, unused-ignore]

    pool = PoolConfig(size=args.in_flight, max_conn_requests=None)
    connector = aiosonic.TCPConnector(pool_configs={":default": pool})
    client = aiosonic.HTTPClient(connector=connector, follow=False)
    timeouts = aiosonic.Timeouts(sock_connect=30.0, request_timeout=30.0)
    request = _Request(url, args.sign_each)

    async def send() -> int:
        resp = await client.post(url, data=BODY, headers=request.headers(), timeouts=timeouts)
        await resp.content()
        return request.answered(resp.status_code, resp.headers.items())

    return send, connector.cleanup


async def pyreqwest_client(url: str, args: argparse.Namespace) -> Opened:
    from pyreqwest.client import ClientBuilder  # type: ignore[import-not-found, unused-ignore]

    client = (
        ClientBuilder()
        .max_connections(args.in_flight)
        .follow_redirects(False)
        .timeout(timedelta(seconds=30))
        .connect_timeout(timedelta(seconds=30))
        .build()
    )
    request = _Request(url, args.sign_each)

    async def send() -> int:
        builder = client.request("POST", url).headers(request.headers()).body_bytes(BODY)
        resp = await builder.build().send()
        return request.answered(resp.status, resp.headers.items())

    return send, client.close


async def curl_cffi_client(url: str, args: argparse.Namespace) -> Opened:
    from curl_cffi.requests import AsyncSession  # type: ignore[import-not-found, unused-ignore]

    session: Any = AsyncSession(max_clients=args.in_flight)
    request = _Request(url, args.sign_each)

    async def send() -> int:
        resp = await session.request(
            "POST",
            url,
            data=BODY,
            headers=request.headers(),
            allow_redirects=False,
            timeout=30.0,
            accept_encoding=None,
            default_headers=False,
        )
        return request.answered(resp.status_code, resp.headers.items())

    return send, session.close


@dataclass(frozen=True)
class Candidate:
    label: str
    module: str  # importable when the client is installed
    open: Callable[[str, argparse.Namespace], Awaitable[Opened]]

    def installed(self) -> bool:
        return importlib.util.find_spec(self.module) is not None


CLIENTS = {
    "aiohttp": Candidate("aiohttp ClientSession", "aiohttp", aiohttp_client),
    "lean": Candidate("DeliveryClient", "wirepost", lean_client),
    "dispatcher": Candidate("Dispatcher.attempt (signs)", "wirepost", dispatcher_client),
    "aiosonic": Candidate("aiosonic HTTPClient", "aiosonic", aiosonic_client),
    "pyreqwest": Candidate("pyreqwest Client (reqwest)", "pyreqwest", pyreqwest_client),
    "curl_cffi": Candidate("curl_cffi AsyncSession (libcurl)", "curl_cffi", curl_cffi_client),
}


async def _drive(send: Send, total: int, in_flight: int) -> int:
    """``total`` requests with ``in_flight`` workers; returns how many were not 200."""
    remaining = total
    failures = 0

    async def worker() -> None:
        nonlocal remaining, failures
        while remaining > 0:
            remaining -= 1
            if await send() != 200:
                failures += 1

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return failures


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@dataclass(frozen=True)
class Run:
    rate: float  # POST/s
    client_cpu: float  # share of one core used by this process
    receiver_cpu: float
    us_per_request: float  # this process's CPU time per request
    failures: int  # responses other than 200


async def measure(
    client: str, url: str, args: argparse.Namespace, receiver_cpu: Callable[[], float]
) -> Run:
    """One run: a fresh client, a warm-up of 10 requests per connection, then N timed ones."""
    send, close = await CLIENTS[client].open(url, args)
    try:
        await _drive(send, args.in_flight * 10, args.in_flight)
        cpu_before, receiver_before = time.process_time(), receiver_cpu()
        started = time.perf_counter()
        failures = await _drive(send, args.n, args.in_flight)
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu_before
        receiver = receiver_cpu() - receiver_before
    finally:
        await close()
    return Run(args.n / elapsed, cpu / elapsed, receiver / elapsed, cpu / args.n * 1e6, failures)


def _table(results: dict[str, list[Run]], args: argparse.Namespace) -> str:
    runs = len(next(iter(results.values())))
    head = " | ".join(f"run {i + 1}" for i in range(runs))
    lines = [
        f"| client | {head} | median POST/s | client CPU | client µs CPU/req | receiver CPU |",
        "|---" * (runs + 5) + "|",
    ]
    for client, rows in results.items():
        rates = " | ".join(f"{r.rate:,.0f}" for r in rows)
        median = statistics.median(r.rate for r in rows)
        cpu = statistics.median(r.client_cpu for r in rows)
        per = statistics.median(r.us_per_request for r in rows)
        rcpu = statistics.median(r.receiver_cpu for r in rows)
        lines.append(
            f"| {CLIENTS[client].label} | {rates} | {median:,.0f} | {cpu:.0%} | {per:.1f}"
            f" | {rcpu:.0%} |"
        )
    return "\n".join(lines)


def main(args: argparse.Namespace) -> None:
    receiver = subprocess.Popen(
        [sys.executable, "-m", "loadtest.client_bench", "--serve", args.receiver],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline())
        url = f"http://127.0.0.1:{port}/hook"
        print(f"load before: {Path('/proc/loadavg').read_text().strip()}")
        results: dict[str, list[Run]] = {name: [] for name in args.clients}
        for run in range(args.runs):
            for client, rows in results.items():
                row = uvloop.run(measure(client, url, args, lambda: _cpu_seconds(receiver.pid)))
                rows.append(row)
                print(
                    f"run {run + 1} {client:8} {row.rate:>9,.0f} POST/s  "
                    f"client CPU {row.client_cpu:.0%}  receiver CPU {row.receiver_cpu:.0%}  "
                    f"failures {row.failures}",
                    flush=True,
                )
        print(f"load after:  {Path('/proc/loadavg').read_text().strip()}")
        mode = "sign + headers per request" if args.sign_each else "prebuilt signed headers"
        print(
            f"\nN = {args.n:,}, {args.in_flight} in flight, receiver = {args.receiver}, {mode}, "
            f"{len(BODY)}-byte body, uvloop, Python {sys.version.split()[0]}, "
            f"aiohttp {aiohttp.__version__}, httptools {httptools.__version__}\n"
        )
        print(_table(results, args))
    finally:
        if receiver.stdin is not None:
            receiver.stdin.close()
        receiver.wait(timeout=10)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="timed requests per run")
    parser.add_argument("--in-flight", type=int, default=100, help="concurrency and pool limit")
    parser.add_argument("--runs", type=int, default=3, help="runs per client")
    parser.add_argument("--receiver", choices=("raw", "aiohttp"), default="raw")
    parser.add_argument("--sign-each", action="store_true", help="sign and build headers per req")
    parser.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help=f"comma-separated, of: {', '.join(CLIENTS)} (default: those installed)",
    )
    parser.add_argument("--serve", choices=("raw", "aiohttp"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.clients.split(",") if name.strip()]
    unknown = [name for name in names if name not in CLIENTS]
    if unknown:
        parser.error(f"unknown client(s) {', '.join(unknown)}: choose from {', '.join(CLIENTS)}")
    missing = [name for name in names if not CLIENTS[name].installed()]
    if missing and args.clients != parser.get_default("clients"):
        parser.error(
            f"not installed: {', '.join(missing)}"
            " (pip install -r loadtest/requirements-clients.txt)"
        )
    args.clients = [name for name in names if name not in missing]
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve:
        uvloop.run(_serve(arguments.serve))
    else:
        main(arguments)
