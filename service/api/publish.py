"""``POST /v2/publish/{destination}``: store a message for a URL (or each endpoint of a URL
group) and answer only after the commit."""

from __future__ import annotations

from aiohttp import web
from yarl import URL

from wirepost import publishing
from wirepost.api import parse, spec
from wirepost.api.shapes import json_response
from wirepost.api.state import ApiState, state_of
from wirepost.destination import DestinationRefused
from wirepost.errors import InvalidRequest, NotFound, PayloadTooLarge

PREFIX = "/v2/publish/"


async def read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(
            f"body of {request.content_length} bytes is larger than "
            f"WIREPOST_MAX_BODY_SIZE ({limit} bytes)"
        )
    body = await request.read()
    if len(body) > limit:
        raise PayloadTooLarge(
            f"body of {len(body)} bytes is larger than WIREPOST_MAX_BODY_SIZE ({limit} bytes)"
        )
    return body


def check_destination(state: ApiState, url: str) -> str:
    """A valid http(s) URL whose host the destination policy allows (literal IPs, localhost)."""
    url = parse.parse_url("destination", url)
    try:
        state.policy.check_host(URL(url, encoded=True).host or "")
    except DestinationRefused as exc:
        raise InvalidRequest(str(exc)) from None
    return url


def published_json(results: list[publishing.Published]) -> list[dict[str, object]]:
    return [
        {
            "messageId": r.message_id,
            "url": r.url,
            **({"deduplicated": True} if r.deduplicated else {}),
        }
        for r in results
    ]


async def publish(request: web.Request) -> web.Response:
    state = state_of(request)
    target = parse.split_target(request.raw_path, PREFIX)
    headers = parse.header_view(request.headers, target)
    body = await read_body(request, state.settings.max_body_size)
    now = state.clock.now()
    template = spec.build_template(
        headers, body=body, settings=state.settings, now=now, caller_ip=request.remote
    )
    if "://" in target.destination and not target.is_url:
        raise InvalidRequest(
            f"destination must start with http:// or https://, got {target.destination[:100]!r}"
        )
    if not target.is_url:
        raise NotFound(
            f"destination {target.destination!r} is not a URL (http:// or https://) "
            "and no URL group has that name"
        )
    url = check_destination(state, target.destination)
    message = spec.for_destination(template, headers, url)
    [result] = await publishing.publish(
        state.pool, [message], now=now, dedup_window=state.settings.dedup_window, waker=state.waker
    )
    [payload] = published_json([result])
    return json_response(payload, status=202 if result.deduplicated else 201)
