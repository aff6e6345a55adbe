"""Publishers that use Wirepost's real HTTP API: single publish, /v2/batch and URL-group fan-out.

They send with Wirepost's own lean HTTP/1.1 client (`DeliveryClient`, asyncio protocols and
httptools) rather than aiohttp's: the load generator shares the two cores with the server and
Postgres, and aiohttp's client took about 210 µs of CPU per single publish at 2,500/s (54 % of a
core) where the lean one takes a fraction of that. What goes over the wire is the same.

Every message body is `{"t": <unix ns when sent>, "seq": n}`, which the sink turns into
publish->receive latency. Rates are open loop: a message is due at start + seq/rate, and its
publish latency is measured from that due time, so a slow server cannot hide its queueing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from loadtest.percentiles import summarize
from wirepost.delivery.http import DeliveryClient
from wirepost.delivery.http_errors import DeliveryError
from wirepost.destination import DestinationPolicy

REQUEST_TIMEOUT_SECONDS = 120.0
RESPONSE_LIMIT = 64 * 1024 * 1024  # bytes of an API answer read (a batch of 1,000 is ~100 KB)


class EndpointMissing(RuntimeError):
    """The server answered 404 for an API this mode needs (it may land later)."""


def message_body(seq: int) -> bytes:
    return orjson.dumps({"t": time.time_ns(), "seq": seq})


def api_client() -> DeliveryClient:
    """The HTTP client publishers share: keep-alive, up to 1,024 connections, loopback allowed
    (the harness only ever talks to 127.0.0.1)."""
    return DeliveryClient(DestinationPolicy(allow_private=True), limit=1024)


@dataclass
class Publisher:
    client: DeliveryClient
    base_url: str
    token: str

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    async def _post(self, path: str, body: bytes, headers: dict[str, str]) -> Any:
        try:
            response = await self.client.request(
                "POST",
                self.base_url + path,
                self._headers(headers),
                body,
                timeout=REQUEST_TIMEOUT_SECONDS,
                connect_timeout=REQUEST_TIMEOUT_SECONDS,
                body_limit=RESPONSE_LIMIT,
            )
        except DeliveryError as exc:
            raise RuntimeError(f"POST {path}: {exc}") from exc
        payload = response.body
        if response.status == 404 and b"messageId" not in payload:
            raise EndpointMissing(f"POST {path.split('/http')[0]} answered 404")
        if response.status >= 300:
            raise RuntimeError(f"POST {path} answered {response.status}: {payload[:200]!r}")
        if response.truncated:
            raise RuntimeError(f"POST {path}: the answer is over {RESPONSE_LIMIT} bytes")
        return orjson.loads(payload) if payload else None

    async def publish(self, destination: str, body: bytes, headers: dict[str, str] | None = None):
        """One message to a URL or URL-group name: POST /v2/publish/{destination}."""
        content = {"Content-Type": "application/json", **(headers or {})}
        return await self._post("/v2/publish/" + destination, body, content)

    async def batch(self, items: list[dict[str, Any]]) -> Any:
        """POST /v2/batch with items {"destination", "headers", "body"}."""
        content = {"Content-Type": "application/json"}
        return await self._post("/v2/batch", orjson.dumps(items), content)

    async def create_group(self, name: str, urls: list[str]) -> None:
        """POST /v2/topics/{name}/endpoints."""
        body = orjson.dumps({"endpoints": [{"url": url} for url in urls]})
        await self._post(f"/v2/topics/{name}/endpoints", body, {"Content-Type": "application/json"})


@dataclass
class PublishResult:
    published: int = 0
    failures: int = 0
    seconds: float = 0.0
    method: str = ""
    errors: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    sent_at: list[float] = field(default_factory=list)  # seconds since start, per latency
    started_at: float | None = None  # Unix time of the first send (open-loop publishing only)

    def as_json(self) -> dict[str, Any]:
        return {
            "published": self.published,
            "failures": self.failures,
            "seconds": round(self.seconds, 3),
            "rate": round(self.published / self.seconds, 1) if self.seconds else None,
            "method": self.method,
            "errors": self.errors[:5],
            "publish_latency_ms": summarize(self.latencies_ms),
            "publish_timeline": self.timeline(),
            "started_at": self.started_at,
        }

    def timeline(self) -> list[dict[str, Any]]:
        """Publish latency per second of the run (open-loop publishing only)."""
        buckets: dict[int, list[float]] = {}
        for sent_at, latency in zip(self.sent_at, self.latencies_ms, strict=True):
            buckets.setdefault(int(sent_at), []).append(latency)
        ordered = sorted(buckets.items())
        return [{"second": second, **summarize(values)} for second, values in ordered]


async def publish_backlog(
    publisher: Publisher,
    destination: str,
    count: int,
    *,
    headers: dict[str, str],
    chunk: int = 1000,
    concurrency: int = 64,
    deadline: float,
) -> PublishResult:
    """Publish `count` messages as fast as the server takes them: /v2/batch, else one by one."""
    result = PublishResult(method="batch")
    start = time.monotonic()
    try:
        await _publish_in_batches(publisher, destination, count, headers, chunk, result, deadline)
    except EndpointMissing:
        result.method = "single (POST /v2/batch answered 404)"
        await _publish_one_by_one(
            publisher, destination, count, headers, concurrency, result, deadline
        )
    result.seconds = time.monotonic() - start
    return result


async def _publish_in_batches(
    publisher: Publisher,
    destination: str,
    count: int,
    headers: dict[str, str],
    chunk: int,
    result: PublishResult,
    deadline: float,
) -> None:
    firsts = list(range(0, count, chunk))

    async def send(first: int) -> None:
        items = [
            {"destination": destination, "headers": headers, "body": message_body(seq).decode()}
            for seq in range(first, min(first + chunk, count))
        ]
        await publisher.batch(items)
        result.published += len(items)

    if not firsts:
        return
    await send(firsts[0])  # alone first, so that a 404 is seen before other chunks race it
    remaining = iter(firsts[1:])

    async def worker() -> None:
        for first in remaining:
            if time.monotonic() > deadline:
                return
            await send(first)

    await asyncio.gather(*(worker() for _ in range(4)))


async def _publish_one_by_one(
    publisher: Publisher,
    destination: str,
    count: int,
    headers: dict[str, str],
    concurrency: int,
    result: PublishResult,
    deadline: float,
) -> None:
    sequence = iter(range(result.published, count))

    async def worker() -> None:
        for seq in sequence:
            if time.monotonic() > deadline:
                return
            try:
                await publisher.publish(destination, message_body(seq), headers)
                result.published += 1
            except RuntimeError as error:
                result.failures += 1
                if len(result.errors) < 20:
                    result.errors.append(str(error))

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def publish_at_rate(
    send_one: Callable[[int], Awaitable[object]],
    *,
    rate: float,
    duration: float,
    max_in_flight: int = 512,
) -> PublishResult:
    """Call `send_one(seq)` open loop at `rate` per second for `duration` seconds."""
    total = int(rate * duration)
    result = PublishResult(method="single")
    slots = asyncio.Semaphore(max_in_flight)
    start = time.monotonic()
    result.started_at = time.time()
    tasks: set[asyncio.Task[None]] = set()

    async def send(seq: int, due: float) -> None:
        async with slots:
            try:
                await send_one(seq)
            except (RuntimeError, OSError) as error:
                result.failures += 1
                if len(result.errors) < 20:
                    result.errors.append(str(error))
                return
        now = time.monotonic()
        result.published += 1
        result.latencies_ms.append((now - due) * 1000)
        result.sent_at.append(due - start)

    seq = 0
    while seq < total:
        due_now = min(total, int((time.monotonic() - start) * rate) + 1)
        while seq < due_now:
            task = asyncio.create_task(send(seq, start + seq / rate))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            seq += 1
        await asyncio.sleep(max(0.0, start + seq / rate - time.monotonic()))
    await asyncio.gather(*tasks)
    result.seconds = time.monotonic() - start
    return result
