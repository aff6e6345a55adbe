"""One delivery attempt: build the signed request, send it, classify the result into a value.

``attempt`` never raises for anything the destination does: 2xx → ``Delivered``; a refused
destination or a 489 with ``Upstash-NonRetryable-Error: true`` → ``GiveUp``; any other status,
timeout or connection error → ``RetryLater`` while retries remain, else ``GiveUp``. Redirects
are not followed (DESIGN decision 7). Response bodies are read up to a cap.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from wirepost.clock import Clock
from wirepost.config import Settings
from wirepost.delivery.resolver import refused_by_guard
from wirepost.delivery.retry import next_retry_delay
from wirepost.destination import DestinationPolicy, DestinationRefused
from wirepost.domain import (
    Claimed,
    Delivered,
    GiveUp,
    Headers,
    Message,
    Outcome,
    Response,
    RetryLater,
    canonical_header,
)
from wirepost.retry_delay import RetryDelay
from wirepost.signing import Signer
from wirepost_verify.protocol import SIGNATURE_HEADER

USER_AGENT = "Upstash-QStash"


def request_headers(m: Message, retried: int, signature: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, values in m.headers.items():
        for value in values:
            headers.add(name, value)
    headers["User-Agent"] = USER_AGENT
    headers["Upstash-Message-Id"] = m.id
    headers["Upstash-Retried"] = str(retried)
    headers[SIGNATURE_HEADER] = signature
    if m.topic_name:
        headers["Upstash-Topic-Name"] = m.topic_name
    if m.schedule_id:
        headers["Upstash-Schedule-Id"] = m.schedule_id
    if m.caller_ip:
        headers["Upstash-Caller-Ip"] = m.caller_ip
    return headers


def response_headers(headers: CIMultiDictProxy[str]) -> Headers:
    out: Headers = {}
    for name, value in headers.items():
        out.setdefault(canonical_header(name), []).append(value)
    return out


def classify(claimed: Claimed, response: Response, error: str | None, now: datetime) -> Outcome:
    """Decide what an attempt's result means for the message (pure)."""
    m = claimed.message
    if error is None and 200 <= response.status < 300:
        return Delivered(response)
    reason = error or f"HTTP {response.status}"
    non_retryable = response.status == 489 and any(
        v.strip().lower() == "true" for v in response.headers.get("Upstash-Nonretryable-Error", [])
    )
    if non_retryable or claimed.retried >= m.max_retries:
        return GiveUp(reason, response)
    expression = None
    if m.retry_delay:
        try:
            expression = RetryDelay.parse(m.retry_delay)
        except ValueError:
            expression = None
    first_values = {name: values[0] for name, values in response.headers.items() if values}
    delay = next_retry_delay(
        claimed.retried + 1, expression=expression, response_headers=first_values, now=now
    )
    return RetryLater(now + delay, reason, response)


class Dispatcher:
    """Sends attempts over one shared aiohttp session (keep-alive pools per host)."""

    def __init__(
        self, session: aiohttp.ClientSession, policy: DestinationPolicy, settings: Settings
    ) -> None:
        self._session = session
        self._policy = policy
        self._body_limit = settings.response_body_limit
        self._max_timeout = settings.attempt_timeout

    def _timeout(self, m: Message) -> float:
        limit = self._max_timeout
        if m.timeout_ms is not None:
            limit = min(limit, timedelta(milliseconds=m.timeout_ms))
        return limit.total_seconds()

    async def send(self, claimed: Claimed, signer: Signer) -> tuple[Response, str | None]:
        """Perform the HTTP request; returns the response and an error text (None if it
        answered). Raises DestinationRefused when the guard refuses the address."""
        m = claimed.message
        url = URL(m.url, encoded=True)
        self._policy.check_host(url.host or "")
        signature = signer.sign(url=m.url, body=m.body, now=int(time.time()))
        seconds = self._timeout(m)
        timeout = aiohttp.ClientTimeout(total=seconds, connect=min(seconds, 30.0))
        try:
            async with self._session.request(
                m.method,
                url,
                data=m.body,
                allow_redirects=False,
                timeout=timeout,
                headers=request_headers(m, claimed.retried, signature),
            ) as resp:
                body = await self._read_capped(resp)
                return Response(resp.status, response_headers(resp.headers), body), None
        except TimeoutError:
            return Response(), f"timeout after {seconds:g}s"
        except aiohttp.ClientError as exc:
            refusal = refused_by_guard(exc)
            if refusal is not None:
                raise refusal from None
            return Response(), _describe(exc)

    async def _read_capped(self, resp: aiohttp.ClientResponse) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while size < self._body_limit:
            chunk = await resp.content.read(self._body_limit - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)

    async def attempt(self, claimed: Claimed, signer: Signer, clock: Clock) -> Outcome:
        try:
            response, error = await self.send(claimed, signer)
        except DestinationRefused as exc:
            return GiveUp(f"destination refused: {exc}", Response())
        return classify(claimed, response, error, clock.now())


def _describe(exc: aiohttp.ClientError) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        return f"cannot connect to {exc.host}:{exc.port}: {exc.strerror or exc}"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "server disconnected without a response"
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ClientResponseError):
        return f"malformed response: {exc}"
    return f"{type(exc).__name__}: {exc}"
