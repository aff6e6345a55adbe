"""Reading a request's body: bounded in size (413) and in time (408).

Every handler that reads a body reads it here. The size is checked on the declared
``Content-Length`` before a byte is read, then on what arrived (a chunked body has no declared
size). The time is bounded because a body that trickles in holds the handler, its socket and,
for a publish, its share of the pending-publish budget (``api.pending``) for as long as the
client likes: past ``WIREPOST_BODY_TIMEOUT`` the request gets 408 and its connection is closed.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from wirepost.api.state import state_of
from wirepost.errors import PayloadTooLarge, RequestTimeout

MAX_BODY_SETTING = "WIREPOST_MAX_BODY_SIZE"


def _too_large(size: int, limit: int, setting: str) -> PayloadTooLarge:
    return PayloadTooLarge(f"body of {size} bytes is larger than {setting} ({limit} bytes)")


def declared_size(request: web.Request, limit: int, *, setting: str = MAX_BODY_SETTING) -> int:
    """The body's ``Content-Length`` (0 when it is sent chunked), refused with 413 above
    ``limit`` bytes (named by ``setting``) before anything is read."""
    size = request.content_length or 0
    if size > limit:
        raise _too_large(size, limit, setting)
    return size


async def read_body(
    request: web.Request, limit: int | None = None, *, setting: str = MAX_BODY_SETTING
) -> bytes:
    """The whole body, received within ``WIREPOST_BODY_TIMEOUT``; refused with 413 above
    ``limit`` bytes (named by ``setting``). Without ``limit`` only the app's
    ``client_max_size`` bounds it (for the small JSON bodies of control endpoints)."""
    if limit is not None:
        declared_size(request, limit, setting=setting)
    if request.content.is_eof():
        body = await request.read()  # it all came with the head: no timer to set and cancel
    else:
        body = await _read_in_time(request)
    if limit is not None and len(body) > limit:
        raise _too_large(len(body), limit, setting)
    return body


async def _read_in_time(request: web.Request) -> bytes:
    timeout = state_of(request).settings.body_timeout.total_seconds()
    try:
        async with asyncio.timeout(timeout):
            return await request.read()
    except TimeoutError:
        raise RequestTimeout(
            f"the request body did not arrive within {timeout:g} s "
            "(WIREPOST_BODY_TIMEOUT): send it faster, or raise the setting"
        ) from None
