"""The benchmark's receiver: verifies every signature and records publish->receive latency.

Run as its own process: `python -m loadtest.sink --port 9001 --current-key K --next-key K2`
(or `--no-verify` for the peers, which do not sign). Every POST to any path other than the two
control routes below is a delivery. Its body is JSON `{"t": <unix ns at publish>, "seq": n}`;
the sink records `now - t`, counts duplicates by (path, seq), retries (`Upstash-Retried` other
than "0") and signature failures (answered 401, as a real receiver would). Control routes,
polled by loadtest/run.py:

- `GET /stats` counts; `?latency=1` adds p50/p95/p99 and the middle-80 % rate (both read every
  sample, so a poll of the counters alone stays cheap); `?timeline=1` adds buckets of
  `?bucket_ms=` (default 1000);
  `?since=<unix ns>` adds the delivery rate counted from that moment (see `rate_since`).
- `POST /reset` forgets everything (between phases of a run).

Anything else is a 404; a request that is not HTTP closes its connection.

The sink shares the 2-core benchmark machine with the queue it measures, so every microsecond it
spends per delivery is taken from the thing being measured. As an aiohttp `web` app it cost
45-50 µs of CPU per request unverified and 65-85 µs verified (20,000 small POSTs over 50
keep-alive connections), mostly in aiohttp's request, router and response machinery. It is
therefore a bare HTTP/1.1 server: an `asyncio.Protocol` per connection (on uvloop) feeding the
`httptools` (llhttp) parser, with each request handled synchronously in `on_message_complete`,
so pipelined requests are answered in order. Per delivery it keeps only the two headers it
reads, joins the body, makes the same checks as before (the user-facing
`wirepost_verify.Verifier`, an orjson parse, `SinkStats.record`) and writes a prebuilt
`200 ok`: about 12 µs unverified, half of it in the kernel, and 24 µs verified. It honours
keep-alive, `Connection: close`, HTTP/1.0, chunked bodies and `Expect: 100-continue`; bodies
over 4 MiB get a 413 and the connection is closed. There is no idle timeout: the harness owns
every client and closes its connections itself.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from array import array
from collections.abc import Callable
from typing import Any, Final, cast
from urllib.parse import parse_qs, unquote

import httptools
import orjson

from loadtest.percentiles import summarize

MAX_SAMPLES = 2_000_000  # latency samples kept per run (16 bytes each); counting goes on past it


class SinkStats:
    """Counters and samples of one measurement phase."""

    def __init__(self) -> None:
        self.received = 0
        self.duplicates = 0
        self.retried = 0
        self.signature_failures = 0
        self.bad_bodies = 0
        self.first_ns = 0
        self.last_ns = 0
        self.latency_ms = array("d")
        self.received_ns = array("q")
        self._seen: dict[str, bytearray] = {}

    def record(self, path: str, seq: int, sent_ns: int, now_ns: int) -> None:
        self.received += 1
        if not self.first_ns:
            self.first_ns = now_ns
        self.last_ns = now_ns
        if self._mark_seen(path, seq):
            self.duplicates += 1
        if len(self.latency_ms) < MAX_SAMPLES:
            self.latency_ms.append((now_ns - sent_ns) / 1e6)
            self.received_ns.append(now_ns)

    def _mark_seen(self, path: str, seq: int) -> bool:
        """Mark (path, seq) as received; True when it had been received before."""
        seen = self._seen.setdefault(path, bytearray())
        if seq >= len(seen):
            seen.extend(bytes(max(seq + 1 - len(seen), len(seen))))
        before = seen[seq]
        seen[seq] = 1
        return before == 1

    def rate_since(self, since_ns: int) -> float | None:
        """Deliveries per second from max(first receive, since_ns) to the last receive."""
        start = max(self.first_ns, since_ns)
        span_s = (self.last_ns - start) / 1e9
        if span_s <= 0:
            return None
        count = sum(1 for received_ns in self.received_ns if received_ns >= start)
        return round(count / span_s, 1)

    def middle_rate(self, since_ns: int = 0, share: float = 0.8) -> float | None:
        """Deliveries per second over the middle ``share`` of the deliveries received since
        ``since_ns``: the sustained rate, without a queue's start-up and its last stragglers."""
        times = [received_ns for received_ns in self.received_ns if received_ns >= since_ns]
        skip = int(len(times) * (1 - share) / 2)
        first, last = skip, len(times) - 1 - skip
        if last - first < 2 or times[last] <= times[first]:
            return None
        return round((last - first) / ((times[last] - times[first]) / 1e9), 1)

    def as_json(
        self, *, latency: bool, timeline: bool, since_ns: int = 0, bucket_ms: int = 1000
    ) -> dict[str, Any]:
        span_s = (self.last_ns - self.first_ns) / 1e9
        stats: dict[str, Any] = {
            "received": self.received,
            "unique": self.received - self.duplicates,
            "duplicates": self.duplicates,
            "retried": self.retried,
            "signature_failures": self.signature_failures,
            "bad_bodies": self.bad_bodies,
            "first_receive_ns": self.first_ns,
            "last_receive_ns": self.last_ns,
            "receive_rate": round((self.received - 1) / span_s, 1) if span_s > 0 else None,
        }
        if since_ns:
            stats["rate_since"] = self.rate_since(since_ns)
        if latency:
            # Like the percentiles, a pass over every sample (4.5 ms at 50,000 on a 2-core EPYC).
            # The harness polls the counters every 50 ms while deliveries arrive; done on every
            # poll, that pass grows with the drain (by arithmetic, about 0.3 s of the sink's CPU
            # in a drain of 50,000 at 6,500 msg/s), taken from the queue sharing its machine.
            stats["middle_rate"] = self.middle_rate(since_ns)
            stats["latency_ms"] = summarize(self.latency_ms)
        if timeline:
            stats["timeline"] = self._timeline(bucket_ms)
        return stats

    def _timeline(self, bucket_ms: int) -> list[dict[str, Any]]:
        """Buckets of `bucket_ms` since the first receive: deliveries/s and latency percentiles."""
        bucket_ns = bucket_ms * 1_000_000
        buckets: dict[int, list[float]] = {}
        for received_ns, latency_ms in zip(self.received_ns, self.latency_ms, strict=True):
            buckets.setdefault((received_ns - self.first_ns) // bucket_ns, []).append(latency_ms)
        return [
            {
                "t_s": index * bucket_ms / 1000,
                "rate": round(len(values) * 1000 / bucket_ms, 1),
                **summarize(values),
            }
            for index, values in buckets.items()
        ]


MAX_BODY = 4 * 1024 * 1024  # bytes; a larger request body is answered 413

Verify = Callable[[str, bytes], None]
"""`verify(signature, body)` raises on a bad signature."""


def _response(status: bytes, body: bytes, content_type: bytes, *, close: bool) -> bytes:
    """A whole HTTP/1.1 response; `close` adds `Connection: close`."""
    head = b"HTTP/1.1 %s\r\nContent-Length: %d\r\nContent-Type: %s\r\n" % (
        status,
        len(body),
        content_type,
    )
    return head + (b"Connection: close\r\n\r\n" if close else b"\r\n") + body


def _text(status: bytes, text: bytes, *, close: bool) -> bytes:
    return _response(status, text, b"text/plain; charset=utf-8", close=close)


def _json(payload: Any, *, close: bool) -> bytes:
    return _response(b"200 OK", orjson.dumps(payload), b"application/json", close=close)


# The answer to nearly every request, built once; indexed by "close the connection after it".
_OK: Final = (
    _response(b"200 OK", b"ok", b"text/plain", close=False),
    _response(b"200 OK", b"ok", b"text/plain", close=True),
)
_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"
_TOO_LARGE: Final = _text(b"413 Payload Too Large", b"request body over 4 MiB", close=True)

# Header names as the parser hands them over, lowercased once per header.
_SIGNATURE: Final = b"upstash-signature"
_RETRIED: Final = b"upstash-retried"
_EXPECT: Final = b"expect"


class Sink:
    """The sink's state and routes, shared by every connection of the process."""

    def __init__(self, verify: Verify | None) -> None:
        self.verify = verify
        self.stats = SinkStats()

    def deliver(self, path: str, signature: str, retried: bool, body: bytes, now_ns: int) -> bool:
        """Check and record one delivery; False when its signature is bad (a 401)."""
        stats = self.stats
        if self.verify is not None:
            try:
                self.verify(signature, body)
            except Exception:
                stats.signature_failures += 1
                return False
        if retried:
            stats.retried += 1
        try:
            payload = orjson.loads(body)
            stats.record(path, int(payload["seq"]), int(payload["t"]), now_ns)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            stats.bad_bodies += 1
        return True

    def control(self, method: bytes, path: bytes, query: bytes, *, close: bool) -> bytes:
        """The answer to a request that is not a delivery: /stats, /reset or a 404."""
        if method in (b"GET", b"HEAD") and path == b"/stats":
            params = parse_qs(query.decode("utf-8", "replace"))
            try:
                since_ns = int(params.get("since", ["0"])[0])
                bucket_ms = max(10, int(params.get("bucket_ms", ["1000"])[0]))
            except ValueError:
                return _text(
                    b"400 Bad Request", b"since and bucket_ms must be integers", close=close
                )
            flags = {name: params.get(name, [""])[0] == "1" for name in ("latency", "timeline")}
            body = self.stats.as_json(**flags, since_ns=since_ns, bucket_ms=bucket_ms)
            return _json(body, close=close)
        if method == b"POST" and path == b"/reset":
            self.stats = SinkStats()
            return _json({"reset": True}, close=close)
        return _text(b"404 Not Found", b"404: Not Found", close=close)


class _BodyTooLarge(Exception):
    """Raised from a parser callback to stop parsing a connection that was answered 413."""


class SinkConnection(asyncio.Protocol):
    """One client connection: httptools parses, each complete request is answered at once."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self.on_message_begin()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        try:
            self._parser.feed_data(data)
        except (httptools.HttpParserError, httptools.HttpParserUpgrade):
            # Not HTTP, an upgrade we do not speak, bytes after `Connection: close` or a 413.
            if self._transport is not None:
                self._transport.close()

    # httptools callbacks, in the order the parser calls them for each request

    def on_message_begin(self) -> None:
        self._url = b""
        self._signature: bytes | None = None
        self._retried: bytes | None = None
        self._expect_continue = False
        self._body: list[bytes] = []
        self._size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        # The first of repeated headers wins, as with aiohttp's `headers.get`.
        name = name.lower()
        if name == _SIGNATURE:
            if self._signature is None:
                self._signature = value
        elif name == _RETRIED:
            if self._retried is None:
                self._retried = value
        elif name == _EXPECT:
            self._expect_continue = value.lower() == b"100-continue"

    def on_headers_complete(self) -> None:
        # curl sends `Expect: 100-continue` before a large body and waits a second for this.
        continue_ = self._expect_continue and self._parser.get_http_version() == "1.1"
        if continue_ and self._transport is not None:
            self._transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > MAX_BODY:
            if self._transport is not None:
                self._transport.write(_TOO_LARGE)
                self._transport.close()
            raise _BodyTooLarge
        self._body.append(body)

    def on_message_complete(self) -> None:
        now_ns = time.time_ns()
        transport = self._transport
        if transport is None:
            return
        parser = self._parser
        close = not parser.should_keep_alive()
        method = parser.get_method()
        path, query = _split_target(self._url)
        if method == b"POST" and path != b"/reset":
            body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
            signature = (self._signature or b"").decode("latin-1")
            retried = self._retried is not None and self._retried != b"0"
            if self._sink.deliver(_path_key(path), signature, retried, body, now_ns):
                transport.write(_OK[close])
            else:
                transport.write(_text(b"401 Unauthorized", b"bad signature", close=close))
        else:
            response = self._sink.control(method, path, query, close=close)
            if method == b"HEAD":  # the answer a GET would get, without its body
                response = response[: response.index(b"\r\n\r\n") + 4]
            transport.write(response)
        if close:
            transport.close()


def _split_target(url: bytes) -> tuple[bytes, bytes]:
    """(path, query) of a request target, origin-form (`/a?b`) or absolute-form."""
    if url[:1] == b"/":
        path, _, query = url.partition(b"?")
        return path, query
    try:
        parsed = httptools.parse_url(url)
    except httptools.HttpParserInvalidURLError:
        return url, b""  # e.g. `OPTIONS *`: no route matches it, so a 404
    return parsed.path or b"/", parsed.query or b""


def _path_key(path: bytes) -> str:
    """The path duplicates are counted under, percent-decoded like aiohttp's `request.path`."""
    text = path.decode("utf-8", "surrogateescape")
    return unquote(text, errors="surrogateescape") if "%" in text else text


async def serve(host: str, port: int, verify: Verify | None) -> None:
    """Listen on host:port until SIGINT or SIGTERM."""
    loop = asyncio.get_running_loop()
    sink = Sink(verify)
    server = await loop.create_server(lambda: SinkConnection(sink), host, port, backlog=1024)
    stopping = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    await stopping.wait()
    server.close()


def make_verifier(current_key: str, next_key: str) -> Verify:
    """Wirepost's own receiver-side check (wirepost_verify), exactly as a user would call it."""
    from wirepost_verify import Verifier

    verifier = Verifier(current_key, next_key)

    def verify(signature: str, body: bytes) -> None:
        verifier.verify(signature, body)

    return verify


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Signed-receiver sink for the Wirepost benchmark")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--current-key", default="")
    parser.add_argument("--next-key", default="")
    parser.add_argument("--no-verify", action="store_true", help="accept unsigned deliveries")
    args = parser.parse_args(argv)
    if not args.no_verify and not args.current_key:
        parser.error("--current-key is required unless --no-verify is given")
    verify = None if args.no_verify else make_verifier(args.current_key, args.next_key)
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        runner.run(serve(args.host, args.port, verify))


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (it is a Wirepost dependency), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


if __name__ == "__main__":
    main()
