"""``POST /v2/batch``: many publishes (URLs, URL groups, queues) in one request and one
transaction.

The body is a JSON array of ``{"destination", "headers", "body", "queue"}`` (other keys are
ignored). Header keys may be in any case (the JS SDK sends them lower-case). The whole batch is
validated before anything is stored: the first bad item fails the request with 400 naming its
index (DESIGN decision 6).
The answer is aligned with the request: an object per URL item, an array per URL-group item.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from wirepost import publishing
from wirepost.api import parse
from wirepost.api.body import declared_size, read_body
from wirepost.api.publish import (
    GroupLookup,
    Planned,
    TemplateFor,
    answer,
    answer_status,
    plan,
    replan,
    template_for,
)
from wirepost.api.queues import check_name
from wirepost.api.shapes import json_response
from wirepost.api.state import ApiState, state_of
from wirepost.domain import Message
from wirepost.errors import InvalidRequest, NotFound, PayloadTooLarge

MAX_BATCH_ITEMS = 1000
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP token (RFC 9110)


HeadersKey = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class BatchItem:
    destination: str
    headers: CIMultiDict[str]
    body: bytes
    queue: str | None
    headers_key: HeadersKey | None  # the raw headers when all are strings: items alike share one


class Templates:
    """Templates by distinct set of headers, each built once per request: the items of a
    batch usually carry the same headers, and building a template for each took a third
    of the batch's CPU per message. A template holds no body (the messages get theirs from
    ``spec.for_destination``). Beneath it the process's ``spec.TemplateCache`` serves repeats
    across requests; this per-request layer also covers delayed items (one time per request)
    and spares each repeat item the cache's key and copy."""

    def __init__(self, build: TemplateFor) -> None:
        self._build = build
        self._built: dict[tuple[object, ...], Message] = {}

    def get(self, headers: parse.PublishHeaders) -> Message:
        """The template for ``headers``; raises InvalidRequest as ``build_template`` does."""
        key = (*headers.headers.items(), None, *headers.query_config.items())
        template = self._built.get(key)
        if template is None:
            template = self._built[key] = self._build(headers)
        return template


def _header_values(name: str, value: object) -> list[str]:
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, str | int | float):
        values = [str(value)]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        values = list(value)
    else:
        raise InvalidRequest(f"headers[{name!r}] must be a string")
    if any(c in v for v in values for c in "\r\n\0"):
        raise InvalidRequest(f"headers[{name!r}] must not contain line breaks or NUL")
    return values


def _headers(raw: object) -> CIMultiDict[str]:
    if raw is None:
        return CIMultiDict()
    if not isinstance(raw, dict):
        raise InvalidRequest('headers must be an object like {"Upstash-Delay": "10s"}')
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in raw.items():
        if not _HEADER_NAME.fullmatch(name):
            raise InvalidRequest(f"header name {name[:100]!r} is not a valid HTTP header name")
        for text in _header_values(name, value):
            headers.add(name, text)
    return headers


def _headers_key(raw: object) -> HeadersKey | None:
    """The raw headers as a key, when every value is a string (as the SDKs send them)."""
    if raw is None:
        return ()
    if isinstance(raw, dict) and all(type(value) is str for value in raw.values()):
        return tuple(raw.items())
    return None


def _item(raw: object, max_body_size: int, parsed: dict[HeadersKey, CIMultiDict[str]]) -> BatchItem:
    """One item, checked for shape; ``parsed`` holds the headers already parsed in this batch."""
    if not isinstance(raw, dict):
        raise InvalidRequest(
            'must be an object like {"destination": "https://...", "headers": {}, "body": ""}'
        )
    destination = raw.get("destination")
    if not isinstance(destination, str) or not destination:
        raise InvalidRequest("destination is required: a URL or a URL group name")
    body = raw.get("body")
    if body is not None and not isinstance(body, str):
        raise InvalidRequest("body must be a string or null")
    encoded = (body or "").encode()
    if len(encoded) > max_body_size:
        raise PayloadTooLarge(
            f"body of {len(encoded)} bytes is larger than "
            f"WIREPOST_MAX_BODY_SIZE ({max_body_size} bytes)"
        )
    queue = raw.get("queue")
    if queue is not None and not isinstance(queue, str):
        raise InvalidRequest("queue must be a queue name or null")
    raw_headers = raw.get("headers")
    key = _headers_key(raw_headers)
    headers = parsed.get(key) if key is not None else None
    if headers is None:
        headers = _headers(raw_headers)
        if key is not None:
            parsed[key] = headers
    return BatchItem(
        destination, headers, encoded, check_name(queue) if queue is not None else None, key
    )


def parse_batch(raw: bytes, max_body_size: int) -> list[BatchItem]:
    """The items of a batch request, each checked for shape (not yet for its headers)."""
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidRequest(
            'body must be a JSON array like [{"destination": "https://...", "body": "..."}]'
        ) from None
    if not isinstance(data, list):
        raise InvalidRequest('body must be a JSON array like [{"destination": "https://..."}]')
    if len(data) > MAX_BATCH_ITEMS:
        raise InvalidRequest(f"{len(data)} items in one batch; send at most {MAX_BATCH_ITEMS}")
    items: list[BatchItem] = []
    parsed: dict[HeadersKey, CIMultiDict[str]] = {}
    for index, entry in enumerate(data):
        try:
            items.append(_item(entry, max_body_size, parsed))
        except (InvalidRequest, PayloadTooLarge) as exc:
            raise type(exc)(f"batch item {index}: {exc.detail}") from None
    return items


async def batch(request: web.Request) -> web.Response:
    state = state_of(request)
    # The batch as a whole is bounded by the same setting as one body (and by the app's
    # client_max_size); each item's body is bounded by it too.
    limit, setting = state.settings.max_batch_size, "WIREPOST_MAX_BATCH_SIZE"
    with state.pending.hold(1, declared_size(request, limit, setting=setting)) as held:
        raw = await read_body(request, limit, setting=setting)
        items = parse_batch(raw, state.settings.max_body_size)
        held.resize(len(items), len(raw))
        planned, results = await _store(state, items, caller_ip=request.remote)
    answers, start = [], 0
    for p in planned:
        answers.append(answer(p, results[start : start + len(p.messages)]))
        start += len(p.messages)
    return json_response(answers, status=answer_status(results) if items else 200)


async def _store(
    state: ApiState, items: list[BatchItem], *, caller_ip: str | None
) -> tuple[list[Planned], list[publishing.Published]]:
    """Plan every item (all are checked before any is stored), then store them together. An
    item with the destination, headers and queue of one before it is planned from that one's
    messages: batches usually repeat a few, and each plan cost a third of an item's CPU."""
    now = state.clock.now()
    groups = GroupLookup(state.pool)
    templates = Templates(template_for(state, now=now, caller_ip=caller_ip))
    planned: list[Planned] = []
    alike: dict[tuple[str, str | None, HeadersKey], tuple[parse.PublishHeaders, Planned]] = {}
    for index, item in enumerate(items):
        key = None if item.headers_key is None else (item.destination, item.queue, item.headers_key)
        earlier = alike.get(key) if key is not None else None
        if earlier is not None:
            planned.append(replan(earlier[1], earlier[0], item.body))
            continue
        target = parse.split_target(item.destination, "")
        headers = parse.PublishHeaders(item.headers, target.query_config)
        # A queue item is an enqueue: publishing.publish creates the queue if needed.
        fields = {"queue_name": item.queue} if item.queue is not None else {}
        try:
            planned.append(
                await plan(
                    state,
                    target,
                    headers,
                    item.body,
                    groups=groups,
                    build_template=templates.get,
                    **fields,
                )
            )
        except (InvalidRequest, NotFound) as exc:
            raise InvalidRequest(f"batch item {index}: {exc.detail}") from None
        if key is not None:
            alike[key] = (headers, planned[-1])
    results = await publishing.publish(
        state.pool,
        [m for p in planned for m in p.messages],
        now=now,
        dedup_window=state.settings.dedup_window,
        waker=state.waker,
        group=state.group_commit,
    )
    return planned, results
