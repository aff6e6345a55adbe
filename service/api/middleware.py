"""Request id, token check and the one place where errors become HTTP JSON.

``ServiceError`` → ``{"error": detail}`` with its status; aiohttp's own HTTP errors (unknown
route, wrong method, body too large) get the same shape; a NUL character Postgres cannot store
is 400; a lost database is 503; an error with ``retry_after`` (``Overloaded``) carries a
``Retry-After`` header; one that ``closes_connection`` (``RequestTimeout``) ends the keep-alive
connection; anything else is logged with its traceback and answered 500
without internals.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web

from wirepost.entropy import random_bytes
from wirepost.errors import ServiceError, Unauthorized
from wirepost.logs import request_id
from wirepost.store.db import is_connection_error, is_unstorable_text

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(
    status: int, message: str, *, retry_after: int | None = None, **extra: object
) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"error": message, **extra}),
        content_type="application/json",
        headers=None if retry_after is None else {"Retry-After": str(retry_after)},
    )


_HTTP_MESSAGES = {
    404: "no such endpoint: check the path (the API lives under /v2/)",
    405: "method not allowed on this path",
    413: "request body too large: raise WIREPOST_MAX_BODY_SIZE or send less",
}


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    rid = request.headers.get("X-Request-Id") or random_bytes(8).hex()
    token = request_id.set(rid)
    try:
        return await handler(request)
    except ServiceError as exc:
        response = error_response(exc.status, exc.detail, retry_after=exc.retry_after)
        if exc.closes_connection:
            response.force_close()
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, _HTTP_MESSAGES.get(exc.status, exc.reason))
    except Exception as exc:
        if is_unstorable_text(exc):
            return error_response(
                400, "a value in the request holds a NUL character (%00), which cannot be stored"
            )
        if is_connection_error(exc):
            logger.warning("database_unavailable", extra={"error": type(exc).__name__})
            return error_response(503, "database unavailable; retry shortly")
        logger.exception("request_failed", extra={"path": request.path})
        return error_response(500, "internal error", requestId=rid)
    finally:
        request_id.reset(token)


def auth_middleware(tokens: tuple[str, ...]) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Every ``/v2/`` request needs ``Authorization: Bearer <token>`` or ``?qstash_token=``."""
    encoded = [t.encode() for t in tokens]

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/v2/"):
            given = _presented_token(request)
            if given is None:
                raise Unauthorized("missing token: send `Authorization: Bearer <token>`")
            # Compare against every token, in constant time, whatever matches first.
            matched = False
            for candidate in encoded:
                matched |= hmac.compare_digest(candidate, given.encode())
            if not matched:
                raise Unauthorized("invalid token: use one of the values of WIREPOST_TOKEN")
        return await handler(request)

    return check


def _presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("qstash_token") or None
