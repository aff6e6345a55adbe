"""Verify signed deliveries in an ASGI app (Starlette, FastAPI, Quart, ...): a pure ASGI middleware.

The middleware reads the whole request body once, verifies it, and hands the app a `receive`
that replays exactly those bytes, so `await request.body()` in the app returns the raw body the
signature covers. A request that fails verification gets 401 with {"error": "<reason>"} and
never reaches the app. Lifespan and websocket scopes pass through. Imports no framework.

    app.add_middleware(SignatureMiddleware, verifier=Verifier())      # Starlette / FastAPI
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any
from urllib.parse import quote

from .inbound import (
    FORWARDED_HOST_HEADER,
    FORWARDED_PROTO_HEADER,
    REJECTION_CONTENT_TYPE,
    REJECTION_STATUS,
    host_from_server,
    public_url,
    rejection_body,
)
from .protocol import SIGNATURE_HEADER
from .verify import SignatureError, Verifier

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_WANTED_HEADERS = frozenset(
    name.lower().encode("latin-1")
    for name in ("Host", SIGNATURE_HEADER, FORWARDED_PROTO_HEADER, FORWARDED_HOST_HEADER)
)


def _headers(scope: Scope) -> dict[str, str]:
    """The first value of each header this middleware reads, keyed by lower-case name."""
    found: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers", ()):
        name = bytes(raw_name).lower()
        if name in _WANTED_HEADERS:
            found.setdefault(name.decode("latin-1"), bytes(raw_value).decode("latin-1"))
    return found


def _target(scope: Scope) -> str:
    """The request target as sent: raw path (or the re-encoded path) plus the query string."""
    raw_path = scope.get("raw_path")
    if raw_path:  # a few servers leave the query in raw_path; the spec says it is not there
        path = bytes(raw_path).split(b"?", 1)[0].decode("latin-1")
    else:
        path = quote(scope.get("path", "/"))
    query = scope.get("query_string", b"").decode("latin-1")
    return f"{path}?{query}" if query else path


def _url(scope: Scope, headers: dict[str, str], *, trust_forwarded: bool) -> str:
    scheme = str(scope.get("scheme") or "http")
    host = headers.get("host")
    if not host:
        server = scope.get("server") or ("localhost", 80)
        host = host_from_server(scheme, server[0], server[1])
    return public_url(
        scheme=scheme,
        host=host,
        target=_target(scope),
        forwarded_proto=headers.get(FORWARDED_PROTO_HEADER.lower()),
        forwarded_host=headers.get(FORWARDED_HOST_HEADER.lower()),
        trust_forwarded=trust_forwarded,
    )


async def _read_body(receive: Receive) -> bytes | None:
    """Read the whole request body; None if the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A `receive` that yields `body` as one message, then defers to the server's `receive`."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _send_rejection(send: Send, reason: str) -> None:
    payload = rejection_body(reason)
    await send(
        {
            "type": "http.response.start",
            "status": REJECTION_STATUS,
            "headers": [
                (b"content-type", REJECTION_CONTENT_TYPE.encode("latin-1")),
                (b"content-length", str(len(payload)).encode("latin-1")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class SignatureMiddleware:
    """ASGI middleware that lets only genuine deliveries through to `app`.

    `paths` limits verification to requests whose path is in it (others pass untouched);
    `url_check` also compares the signed URL with the URL the request arrived at;
    `trust_forwarded` lets X-Forwarded-Proto / X-Forwarded-Host define that URL (only behind a
    proxy that sets them).
    """

    def __init__(
        self,
        app: ASGIApp,
        verifier: Verifier,
        *,
        url_check: bool = False,
        trust_forwarded: bool = False,
        clock_tolerance: int = 0,
        paths: Collection[str] | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.url_check = url_check
        self.trust_forwarded = trust_forwarded
        self.clock_tolerance = clock_tolerance
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.paths is not None and scope["path"] not in self.paths):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:
            return
        headers = _headers(scope)
        url = _url(scope, headers, trust_forwarded=self.trust_forwarded) if self.url_check else None
        try:
            self.verifier.verify(
                headers.get(SIGNATURE_HEADER.lower(), ""), body, url, self.clock_tolerance
            )
        except SignatureError as error:
            await _send_rejection(send, error.reason)
            return
        await self.app(scope, _replaying(body, receive), send)
