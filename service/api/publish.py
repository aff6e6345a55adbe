"""``POST /v2/publish/{destination}``: store a message for a URL (or one per endpoint of a URL
group) and answer only after the commit.

``plan`` turns (destination, headers, body) into the messages to store; publish, batch and
enqueue share it, so every way in validates and builds messages the same way.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web
from yarl import URL

from wirepost import publishing
from wirepost.api import parse, spec
from wirepost.api.body import declared_size, read_body
from wirepost.api.shapes import json_response
from wirepost.api.state import ApiState, state_of
from wirepost.destination import DestinationPolicy, validate_destination_url
from wirepost.domain import Endpoint, Message
from wirepost.errors import InvalidRequest, NotFound
from wirepost.store import url_groups
from wirepost.store.db import Executor

PREFIX = "/v2/publish/"


def check_destination(state: ApiState, url: str, what: str = "destination") -> str:
    """A valid http(s) URL whose host the destination policy allows (literal IPs, localhost);
    ``what`` names the offending field in the error."""
    try:
        return _allowed_destination(state.policy, url)
    except ValueError as exc:  # DestinationRefused included
        raise InvalidRequest(f"{what}: {exc}") from None


@functools.lru_cache(maxsize=4096)
def _allowed_destination(policy: DestinationPolicy, url: str) -> str:
    """``url`` if it is valid and allowed, else ValueError. Remembered per URL because a batch
    usually repeats a few destinations, and checking one character by character took an eighth
    of a ``/v2/batch``'s CPU. Refusals are not cached (raising skips the cache)."""
    validate_destination_url(url)
    policy.check_host(URL(url, encoded=True).host or "")
    return url


class GroupLookup:
    """Endpoints of URL groups by name, each group read once per request."""

    def __init__(self, db: Executor) -> None:
        self._db = db
        self._seen: dict[str, list[Endpoint] | None] = {}

    async def endpoints(self, name: str) -> list[Endpoint] | None:
        if name not in self._seen:
            self._seen[name] = await url_groups.find_endpoints(self._db, name)
        return self._seen[name]


TemplateFor = Callable[[parse.PublishHeaders], Message]
"""Builds the template of a publish's headers (``spec.build_template``, body left empty)."""


def template_for(state: ApiState, *, now: datetime, caller_ip: str | None) -> TemplateFor:
    """The templates of one request's publishes (same time and caller), through the process's
    ``spec.TemplateCache``."""
    return functools.partial(state.templates.template, now=now, caller_ip=caller_ip)


@dataclass(frozen=True)
class Planned:
    """The messages one publish stores: one for a URL, one per endpoint for a URL group."""

    messages: list[Message]
    group: str | None = None


async def plan(
    state: ApiState,
    target: parse.Target,
    headers: parse.PublishHeaders,
    body: bytes,
    *,
    groups: GroupLookup,
    build_template: TemplateFor,
    **fields: object,
) -> Planned:
    """Validate a publish and build its messages (nothing is stored). ``fields`` are set on
    every message (e.g. ``queue_name``); ``build_template`` builds (or recalls) the template
    of the headers. Raises InvalidRequest, or NotFound for an unknown group."""
    if headers.get("Upstash-Cron"):
        raise InvalidRequest(
            "Upstash-Cron belongs on POST /v2/schedules/<destination>: a publish is delivered once"
        )
    template = build_template(headers)
    if fields.get("queue_name") and headers.get("Upstash-Flow-Control-Key"):
        raise InvalidRequest(
            "Upstash-Flow-Control-Key cannot be combined with a queue: the "
            "queue's parallelism already limits it (POST /v2/queues)"
        )
    for name, url in (
        ("Upstash-Callback", template.callback),
        ("Upstash-Failure-Callback", template.failure_callback),
    ):
        if url:
            check_destination(state, url, name)
    destination = target.destination
    if target.is_url:
        url = check_destination(state, destination)
        return Planned([spec.for_destination(template, headers, url, body=body, **fields)])
    if "://" in destination:
        raise InvalidRequest(
            f"destination must start with http:// or https://, got {destination[:100]!r}"
        )
    if destination.partition("?")[0].lower() == "api/llm":
        raise InvalidRequest("the api/llm destination (Upstash-hosted LLM) is not supported")
    endpoints = await groups.endpoints(destination)
    if endpoints is None:
        raise NotFound(
            f"destination {destination[:100]!r} is not a URL (http:// or https://) "
            "and no URL group has that name"
        )
    messages = [
        spec.for_destination(
            template,
            headers,
            e.url,
            body=body,
            topic_name=destination,
            endpoint_name=e.name,
            **fields,
        )
        for e in endpoints
    ]
    return Planned(messages, group=destination)


def replan(planned: Planned, headers: parse.PublishHeaders, body: bytes) -> Planned:
    """What ``plan`` returns for another ``body`` with the destination, headers and fields that
    gave ``planned``: only the ids and deduplication keys differ, so nothing is checked again."""
    return Planned([spec.with_body(m, headers, body) for m in planned.messages], planned.group)


def published_json(results: Sequence[publishing.Published]) -> list[dict[str, object]]:
    return [
        {
            "messageId": r.message_id,
            "url": r.url,
            **({"deduplicated": True} if r.deduplicated else {}),
        }
        for r in results
    ]


def answer(planned: Planned, results: Sequence[publishing.Published]) -> object:
    """An object for a URL destination, an array (one per endpoint) for a URL group."""
    payload = published_json(results)
    return payload if planned.group is not None else payload[0]


def answer_status(results: Sequence[publishing.Published]) -> int:
    """201, or 202 when every message was a duplicate (DESIGN decision 1)."""
    return 202 if results and all(r.deduplicated for r in results) else 201


async def publish_to(request: web.Request, target: parse.Target, **fields: object) -> web.Response:
    """Validate, store and answer one publish (shared by publish and enqueue); ``fields`` are set
    on every message (e.g. ``queue_name``)."""
    state = state_of(request)
    headers = parse.header_view(request.headers, target)
    size = declared_size(request, state.settings.max_body_size)
    with state.pending.hold(1, size) as held:
        body = await read_body(request, state.settings.max_body_size)
        held.resize(1, len(body))
        now = state.clock.now()
        planned = await plan(
            state,
            target,
            headers,
            body,
            groups=GroupLookup(state.pool),
            build_template=template_for(state, now=now, caller_ip=request.remote),
            **fields,
        )
        results = await publishing.publish(
            state.pool,
            planned.messages,
            now=now,
            dedup_window=state.settings.dedup_window,
            waker=state.waker,
            group=state.group_commit,
        )
    return json_response(answer(planned, results), status=answer_status(results))


async def publish(request: web.Request) -> web.Response:
    return await publish_to(request, parse.split_target(request.raw_path, PREFIX))
