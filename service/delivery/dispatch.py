"""One delivery attempt: build the signed request, send it, classify the result into a value.

``attempt`` never raises for anything the destination does: 2xx → ``Delivered``; a refused
destination or a 489 with ``Upstash-NonRetryable-Error: true`` → ``GiveUp``; any other status,
timeout or connection error → ``RetryLater`` while retries remain, else ``GiveUp``. Redirects
are not followed (DESIGN decision 7). Response bodies are read up to a cap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import datetime

from wirepost.clock import Clock
from wirepost.config import Settings
from wirepost.delivery.http import DeliveryClient, HttpResponse
from wirepost.delivery.http_errors import DeliveryError, RequestError
from wirepost.delivery.retry import next_retry_delay
from wirepost.destination import DestinationRefused
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


_OWN_HEADERS = frozenset(
    name.lower()
    for name in (
        "User-Agent",
        "Upstash-Message-Id",
        "Upstash-Retried",
        SIGNATURE_HEADER,
        "Upstash-Topic-Name",
        "Upstash-Schedule-Id",
        "Upstash-Caller-Ip",
    )
)


def request_headers(m: Message, retried: int, signature: str) -> list[tuple[str, str]]:
    headers = [
        (name, value)
        for name, values in m.headers.items()
        if name.lower() not in _OWN_HEADERS
        for value in values
    ]
    headers += [
        ("User-Agent", USER_AGENT),
        ("Upstash-Message-Id", m.id),
        ("Upstash-Retried", str(retried)),
        (SIGNATURE_HEADER, signature),
    ]
    if m.topic_name:
        headers.append(("Upstash-Topic-Name", m.topic_name))
    if m.schedule_id:
        headers.append(("Upstash-Schedule-Id", m.schedule_id))
    if m.caller_ip:
        headers.append(("Upstash-Caller-Ip", m.caller_ip))
    return headers


def response_headers(headers: Iterable[tuple[str, str]]) -> Headers:
    out: Headers = {}
    for name, value in headers:
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
    """Sends attempts over one shared DeliveryClient (keep-alive pools per host)."""

    def __init__(self, client: DeliveryClient, settings: Settings) -> None:
        self._client = client
        self._body_limit = settings.response_body_limit
        self._max_timeout = settings.attempt_timeout.total_seconds()

    def _timeout(self, m: Message) -> float:
        if m.timeout_ms is None:
            return self._max_timeout
        return min(self._max_timeout, m.timeout_ms / 1000)

    async def attempt(self, claimed: Claimed, signer: Signer, clock: Clock) -> Outcome:
        """``start`` one attempt and wait for its outcome (raises what ``start`` reports)."""
        done: asyncio.Future[Outcome | Exception] = asyncio.get_running_loop().create_future()
        self.start(claimed, signer, clock, lambda _claimed, result: done.set_result(result))
        result = await done
        if isinstance(result, Exception):
            raise result
        return result

    def start(
        self,
        claimed: Claimed,
        signer: Signer,
        clock: Clock,
        on_outcome: Callable[[Claimed, Outcome | Exception], None],
    ) -> None:
        """Sign and send one attempt; ``on_outcome(claimed, outcome)`` follows once, from the
        response's callback. The client checks the destination guard on the host and every
        resolved address whenever it opens a connection; a refusal gives up at once, as does a
        request that cannot be sent. Anything else that goes wrong (a bug, not the destination)
        is passed on as the exception instead of an outcome."""
        m = claimed.message
        seconds = self._timeout(m)

        def answered(result: HttpResponse | BaseException) -> None:
            try:
                outcome: Outcome | Exception = self._outcome(claimed, result, clock)
            except Exception as exc:
                outcome = exc
            on_outcome(claimed, outcome)

        try:
            signature = signer.sign(url=m.url, body=m.body, now=int(time.time()))
            headers = request_headers(m, claimed.retried, signature)
        except Exception as exc:
            on_outcome(claimed, exc)
            return
        self._client.start(
            m.method,
            m.url,
            headers,
            m.body,
            timeout=seconds,
            connect_timeout=min(seconds, 30.0),
            body_limit=self._body_limit,
            on_done=answered,
        )

    @staticmethod
    def _outcome(claimed: Claimed, result: HttpResponse | BaseException, clock: Clock) -> Outcome:
        """What the client's answer means for the message; re-raises an exception that is
        neither the destination's doing nor a request that cannot be sent."""
        if isinstance(result, DestinationRefused):
            return GiveUp(f"destination refused: {result}", Response())
        if isinstance(result, RequestError):
            return GiveUp(f"invalid request: {result}", Response())
        if isinstance(result, DeliveryError):
            return classify(claimed, Response(), str(result), clock.now())
        if isinstance(result, BaseException):
            raise result
        response = Response(result.status, response_headers(result.headers), result.body)
        if 200 <= result.status < 300:
            return Delivered(response)
        return classify(claimed, response, None, clock.now())
