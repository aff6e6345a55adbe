"""The dead-letter queue: list, get, delete (one or many), retry (one or many)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

import orjson
from aiohttp import web

from wirepost import publishing
from wirepost.api import parse, query
from wirepost.api.body import read_body
from wirepost.api.shapes import dead_letter_json, json_response
from wirepost.api.state import ApiState, state_of
from wirepost.config import Settings
from wirepost.domain import Message
from wirepost.errors import InvalidRequest, NotFound
from wirepost.store import dead_letters
from wirepost.store.filters import DeadLetterFilter


def _dlq_id(request: web.Request) -> int:
    raw = request.match_info["dlq_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise NotFound(f"no DLQ entry {raw!r}")
    return int(raw)


def dead_letter_filter(request: web.Request, ids: list[str] | None = None) -> DeadLetterFilter:
    q = request.query
    return DeadLetterFilter(
        ids=query.integers("dlqIds", ids if ids is not None else query.values(q, "dlqIds")),
        message_ids=query.values(q, "messageId", "messageIds"),
        response_statuses=query.integers("responseStatus", query.values(q, "responseStatus")),
        **query.message_filter_fields(q),
    )


async def list_dlq(request: web.Request) -> web.Response:
    q = request.query
    page, end = await dead_letters.list_page(
        state_of(request).pool,
        dead_letter_filter(request),
        after=query.cursor(q),
        limit=query.count(q, default=100, maximum=100),
        earliest_first=not query.latest_first(q, default=False),
    )
    return json_response(
        {**query.next_cursor(end), "messages": [dead_letter_json(d) for d in page]}
    )


async def get_dlq(request: web.Request) -> web.Response:
    entry = await dead_letters.get(state_of(request).pool, _dlq_id(request))
    return json_response(dead_letter_json(entry))


async def delete_dlq(request: web.Request) -> web.Response:
    dlq_id = _dlq_id(request)
    if not await dead_letters.delete_many(state_of(request).pool, [dlq_id]):
        raise NotFound(f"no DLQ entry {dlq_id} (deleted, retried or expired)")
    return json_response({"deleted": 1})


async def _body_ids(request: web.Request) -> list[str] | None:
    """``{"dlqIds": [...]}`` from a JSON body (Python and Go SDKs), or None without a body."""
    raw = await read_body(request)
    if not raw.strip():
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest('body must be JSON like {"dlqIds": ["1", "2"]}') from None
    ids = data.get("dlqIds") if isinstance(data, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str | int) for i in ids):
        raise InvalidRequest('body must be JSON like {"dlqIds": ["1", "2"]}')
    return [str(i) for i in ids]


async def _select(request: web.Request) -> tuple[list[int], int | None]:
    """The entries a bulk call acts on: JSON ids, query ids, or a filtered page."""
    state = state_of(request)
    where = dead_letter_filter(request, await _body_ids(request))
    if where.ids is not None:
        return list(where.ids), None
    page, end = await dead_letters.list_page(
        state.pool,
        where,
        after=query.cursor(request.query),
        limit=query.count(request.query, default=100, maximum=100),
    )
    return [d.id for d in page], end


async def delete_dlq_many(request: web.Request) -> web.Response:
    ids, end = await _select(request)
    deleted = await dead_letters.delete_many(state_of(request).pool, ids)
    return json_response({"deleted": len(deleted), **query.next_cursor(end)})


def overrides(
    request: web.Request, settings: Settings, now: datetime
) -> Callable[[Message], Message]:
    """``Upstash-*`` headers on a retry request replace the message's own configuration."""
    headers = parse.PublishHeaders(request.headers, {})
    changes: dict[str, object] = {}
    if headers.get("Upstash-Retries"):
        changes["max_retries"] = parse.parse_int(
            "Upstash-Retries", headers.get("Upstash-Retries") or "", 0, settings.max_retries
        )
    if headers.get("Upstash-Delay") or headers.get("Upstash-Not-Before"):
        changes["not_before"] = parse.not_before(headers, settings, now)
    if headers.get("Upstash-Method"):
        changes["method"] = parse.parse_method("Upstash-Method", headers.get("Upstash-Method"))
    if headers.get("Upstash-Timeout"):
        changes["timeout_ms"] = parse.timeout_ms(headers)
    if headers.get("Upstash-Retry-Delay"):
        changes["retry_delay"] = parse.parse_retry_delay(
            "Upstash-Retry-Delay", headers.get("Upstash-Retry-Delay")
        )
    return lambda m: replace(m, **changes) if changes else m  # type: ignore[arg-type]


async def _retry(
    state: ApiState, request: web.Request, ids: list[int]
) -> list[publishing.Published]:
    now = state.clock.now()
    # overrides() runs (and rejects bad headers) before any entry is taken.
    return await publishing.retry_dead_letters(
        state.pool, ids, now=now, adjust=overrides(request, state.settings, now), waker=state.waker
    )


async def retry_dlq(request: web.Request) -> web.Response:
    state = state_of(request)
    dlq_id = _dlq_id(request)
    results = await _retry(state, request, [dlq_id])
    if not results:
        raise NotFound(f"no DLQ entry {dlq_id} (deleted, retried or expired)")
    return json_response({"messageId": results[0].message_id}, status=201)


async def retry_dlq_many(request: web.Request) -> web.Response:
    state = state_of(request)
    ids, end = await _select(request)
    results = await _retry(state, request, ids)
    return json_response(
        {
            "cursor": str(end) if end is not None else "",
            "responses": [{"messageId": r.message_id} for r in results],
        },
        status=201,
    )
