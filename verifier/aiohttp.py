"""Verify signed deliveries in an aiohttp receiver: a middleware and a handler decorator.

Both read the body with `await request.read()`, which aiohttp caches, so handlers still get the
exact raw bytes from `request.read()`, `.text()` or `.json()` (not from `request.content`, the
stream, which is already drained). A request that fails verification gets 401 with
{"error": "<reason>"} and never reaches the handler. This is the only module of the package that
imports aiohttp; `wirepost_verify` itself does not need it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from .inbound import (
    FORWARDED_HOST_HEADER,
    FORWARDED_PROTO_HEADER,
    REJECTION_CONTENT_TYPE,
    REJECTION_STATUS,
    public_url,
    rejection_body,
)
from .protocol import SIGNATURE_HEADER
from .verify import SignatureError, Verifier


async def _rejection(
    request: web.Request,
    verifier: Verifier,
    *,
    url_check: bool,
    trust_forwarded: bool,
    clock_tolerance: int,
) -> web.Response | None:
    """Return a 401 response if `request` is not a genuine delivery, else None."""
    body = await request.read()
    url = None
    if url_check:
        url = public_url(
            scheme=request.scheme,
            host=request.host,
            target=request.raw_path,
            forwarded_proto=request.headers.get(FORWARDED_PROTO_HEADER),
            forwarded_host=request.headers.get(FORWARDED_HOST_HEADER),
            trust_forwarded=trust_forwarded,
        )
    try:
        verifier.verify(request.headers.get(SIGNATURE_HEADER, ""), body, url, clock_tolerance)
    except SignatureError as error:
        return web.Response(
            status=REJECTION_STATUS,
            body=rejection_body(error.reason),
            content_type=REJECTION_CONTENT_TYPE,
        )
    return None


def verify_middleware(
    verifier: Verifier,
    *,
    url_check: bool = False,
    trust_forwarded: bool = False,
    clock_tolerance: int = 0,
    paths: Collection[str] | None = None,
) -> Middleware:
    """Build a middleware that verifies every request (or only those whose path is in `paths`).

    `url_check` also compares the signed URL with the URL the request arrived at;
    `trust_forwarded` lets X-Forwarded-Proto / X-Forwarded-Host define that URL (only behind a
    proxy that sets them).
    """

    @web.middleware
    async def signature_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if paths is None or request.path in paths:
            response = await _rejection(
                request,
                verifier,
                url_check=url_check,
                trust_forwarded=trust_forwarded,
                clock_tolerance=clock_tolerance,
            )
            if response is not None:
                return response
        return await handler(request)

    return signature_middleware


def verified(
    verifier: Verifier,
    *,
    url_check: bool = False,
    trust_forwarded: bool = False,
    clock_tolerance: int = 0,
) -> Callable[[Handler], Handler]:
    """Decorate one handler so it only runs for genuine deliveries (same options as above)."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def verified_handler(request: web.Request) -> web.StreamResponse:
            response = await _rejection(
                request,
                verifier,
                url_check=url_check,
                trust_forwarded=trust_forwarded,
                clock_tolerance=clock_tolerance,
            )
            if response is not None:
                return response
            return await handler(request)

        return verified_handler

    return decorate
