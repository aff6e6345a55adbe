"""Sends calls over httpx, blocking (``SyncTransport``) or async (``AsyncTransport``), retrying
transport errors, and answers that turn a call away unread, as the ``RetryPolicy`` says. The
only module that does network I/O.

Which transport errors are retried (never an HTTP error answer):
- the connection could not be made (refused, DNS, connect timeout, no free pooled connection):
  the request never left, so every call is retried;
- the connection broke, or the answer timed out, after the request was sent: the server may have
  acted on it, so only calls that are harmless to repeat (``Call.replayable``) are retried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from importlib import metadata
from typing import Any, TypeVar

import httpx

from .call import Call, Page
from .errors import WirepostConnectionError
from .operation import Async, Sync, Transport
from .settings import CONNECT_TIMEOUT, ClientSettings

T = TypeVar("T")
LONGEST_RETRY_AFTER = 60.0  # seconds; a longer Retry-After is waited for this long
NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
MAYBE_SENT = (
    httpx.ReadError,
    httpx.WriteError,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
    httpx.RemoteProtocolError,
)


def _user_agent() -> str:
    try:
        version = metadata.version("wirepost-client")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"wirepost-client/{version}"


def http_options(settings: ClientSettings) -> dict[str, Any]:
    """Keyword arguments for ``httpx.Client`` and ``httpx.AsyncClient`` alike."""
    return {
        "base_url": settings.base_url,
        "headers": {
            "Authorization": f"Bearer {settings.token}",
            "User-Agent": _user_agent(),
        },
        "timeout": httpx.Timeout(settings.timeout, connect=min(settings.timeout, CONNECT_TIMEOUT)),
        "follow_redirects": False,
    }


class Attempts:
    """The attempts of one call: ``wait()`` gives the seconds to wait before the next attempt
    (0 before the first); ``failed(error)`` returns if another attempt may follow, else
    raises WirepostConnectionError."""

    def __init__(self, settings: ClientSettings, call: Call[Any]) -> None:
        self._settings = settings
        self._call = call
        self._made = 0
        self._retry_after = 0.0

    def wait(self) -> float:
        if not self._made:
            return 0.0
        return max(self._settings.retry.delay(self._made), self._retry_after)

    def turned_away(self, response: httpx.Response) -> bool:
        """True when ``response`` refused the call unread and another attempt may follow: a 503
        with ``Retry-After`` (``wait()`` then waits at least what the header asks), or a 408 (the
        request's body did not reach the server in time; the policy's delay applies)."""
        status = response.status_code
        if status not in (408, 503) or self._made >= self._settings.retry.retries:
            return False
        seconds = _seconds(response.headers.get("Retry-After"))
        if status == 503 and seconds is None:
            return False
        self._made += 1
        self._retry_after = seconds or 0.0
        return True

    def failed(self, error: httpx.TransportError) -> None:
        self._made += 1
        may_retry = isinstance(error, NOT_SENT) or (
            self._call.replayable and isinstance(error, MAYBE_SENT)
        )
        if may_retry and self._made <= self._settings.retry.retries:
            return
        call = self._call
        note = (
            " (not retried: the request may have reached the server and this call is not "
            "harmless to repeat)"
            if isinstance(error, MAYBE_SENT) and not may_retry
            else ""
        )
        raise WirepostConnectionError(
            f"{call.method} {self._settings.base_url}{call.path} failed after "
            f"{self._made} attempt(s){note}: {type(error).__name__}: {error}"
        ) from error


def _seconds(retry_after: str | None) -> float | None:
    """A ``Retry-After`` in seconds (the form Wirepost sends), capped; None if absent or not."""
    if retry_after is None:
        return None
    try:
        seconds = float(retry_after)
    except ValueError:
        return None
    if not 0 <= seconds < float("inf"):  # also refuses NaN
        return None
    return min(seconds, LONGEST_RETRY_AFTER)


def _request(http: httpx.Client | httpx.AsyncClient, call: Call[Any]) -> httpx.Request:
    return http.build_request(
        call.method,
        call.path,
        params=list(call.params) or None,
        headers=call.headers,
        content=call.content,
    )


class SyncTransport(Transport[Sync]):
    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._http = httpx.Client(**http_options(settings))

    def run(self, call: Call[T]) -> T:
        attempts = Attempts(self._settings, call)
        while True:
            time.sleep(attempts.wait())
            try:
                response = self._http.send(_request(self._http, call))
            except httpx.TransportError as exc:
                attempts.failed(exc)
            else:
                if not attempts.turned_away(response):
                    return call.read(response.status_code, response.content)

    def pages(self, page: Callable[[str | None], Call[Page[T]]]) -> Iterator[T]:
        cursor: str | None = None
        while True:
            got = self.run(page(cursor))
            yield from got.items
            if (cursor := got.after(cursor)) is None:
                return

    def close(self) -> None:
        self._http.close()


class AsyncTransport(Transport[Async]):
    def __init__(self, settings: ClientSettings) -> None:
        self._settings = settings
        self._http = httpx.AsyncClient(**http_options(settings))

    async def run(self, call: Call[T]) -> T:
        attempts = Attempts(self._settings, call)
        while True:
            await asyncio.sleep(attempts.wait())
            try:
                response = await self._http.send(_request(self._http, call))
            except httpx.TransportError as exc:
                attempts.failed(exc)
            else:
                if not attempts.turned_away(response):
                    return call.read(response.status_code, response.content)

    async def pages(self, page: Callable[[str | None], Call[Page[T]]]) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            got = await self.run(page(cursor))
            for item in got.items:
                yield item
            if (cursor := got.after(cursor)) is None:
                return

    async def aclose(self) -> None:
        await self._http.aclose()
