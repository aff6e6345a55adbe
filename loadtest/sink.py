"""The benchmark's receiver: verifies every signature and records publish->receive latency.

Run as its own process: `python -m loadtest.sink --port 9001 --current-key K --next-key K2`
(or `--no-verify` for the peers, which do not sign). Every POST to any path other than the two
control routes below is a delivery. Its body is JSON `{"t": <unix ns at publish>, "seq": n}`;
the sink records `now - t`, counts duplicates by (path, seq) and signature failures (answered
401, as a real receiver would). Control routes, polled by loadtest/run.py:

- `GET /stats` counts; `?latency=1` adds p50/p95/p99; `?timeline=1` adds buckets of
  `?bucket_ms=` (default 1000);
  `?since=<unix ns>` adds the delivery rate counted from that moment (see `rate_since`).
- `POST /reset` forgets everything (between phases of a run).

It must not do anything slow per request: one verify, one JSON parse, a few array appends.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from array import array
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import web

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


def build_app(verify: Callable[[str, bytes], None] | None) -> web.Application:
    """The sink application; `verify(signature, body)` raises on a bad signature."""
    state = {"stats": SinkStats()}

    async def receive(request: web.Request) -> web.Response:
        body = await request.read()
        now_ns = time.time_ns()
        stats = state["stats"]
        if verify is not None:
            try:
                verify(request.headers.get("Upstash-Signature", ""), body)
            except Exception:
                stats.signature_failures += 1
                return web.Response(status=401, text="bad signature")
        if request.headers.get("Upstash-Retried", "0") != "0":
            stats.retried += 1
        try:
            payload = orjson.loads(body)
            stats.record(request.path, int(payload["seq"]), int(payload["t"]), now_ns)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            stats.bad_bodies += 1
        return web.Response(text="ok")

    async def get_stats(request: web.Request) -> web.Response:
        flags = {name: request.query.get(name) == "1" for name in ("latency", "timeline")}
        since_ns = int(request.query.get("since", "0"))
        bucket_ms = max(10, int(request.query.get("bucket_ms", "1000")))
        body = state["stats"].as_json(**flags, since_ns=since_ns, bucket_ms=bucket_ms)
        return web.Response(body=orjson.dumps(body), content_type="application/json")

    async def reset(_request: web.Request) -> web.Response:
        state["stats"] = SinkStats()
        return web.json_response({"reset": True})

    app = web.Application(client_max_size=4 * 1024 * 1024)
    app.router.add_get("/stats", get_stats)
    app.router.add_post("/reset", reset)
    app.router.add_post("/{tail:.*}", receive)
    return app


def make_verifier(current_key: str, next_key: str) -> Callable[[str, bytes], None]:
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
    web.run_app(
        build_app(verify),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
        loop=new_event_loop(),
    )


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (it is a Wirepost dependency), else asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


if __name__ == "__main__":
    main()
