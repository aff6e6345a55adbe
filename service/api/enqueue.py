"""``POST /v2/enqueue/{queue}/{destination}``: publish into a queue (created with parallelism 1
on first use). Messages of a queue start in enqueue order, at most ``parallelism`` at a time."""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from wirepost import publishing
from wirepost.api import parse
from wirepost.api.publish import GroupLookup, answer, answer_status, plan, read_body
from wirepost.api.queues import check_name
from wirepost.api.shapes import json_response
from wirepost.api.state import state_of
from wirepost.errors import InvalidRequest

PREFIX = "/v2/enqueue/"


async def enqueue(request: web.Request) -> web.Response:
    state = state_of(request)
    raw_queue, slash, _ = request.raw_path[len(PREFIX) :].partition("/")
    if not slash:
        raise InvalidRequest("use POST /v2/enqueue/<queue>/<destination>")
    queue = check_name(unquote(raw_queue))
    target = parse.split_target(request.raw_path, f"{PREFIX}{raw_queue}/")
    headers = parse.header_view(request.headers, target)
    if headers.get("Upstash-Flow-Control-Key"):
        raise InvalidRequest(
            "Upstash-Flow-Control-Key cannot be combined with a queue: the "
            "queue's parallelism already limits it (POST /v2/queues)"
        )
    body = await read_body(request, state.settings.max_body_size)
    now = state.clock.now()
    planned = await plan(
        state,
        target,
        headers,
        body,
        now=now,
        caller_ip=request.remote,
        groups=GroupLookup(state.pool),
        queue_name=queue,
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
