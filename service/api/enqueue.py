"""``POST /v2/enqueue/{queue}/{destination}``: publish into a queue (created with parallelism 1
on first use). Messages of a queue start in enqueue order, at most ``parallelism`` at a time."""

from __future__ import annotations

from urllib.parse import unquote

from aiohttp import web

from wirepost.api import parse
from wirepost.api.publish import publish_to
from wirepost.api.queues import check_name
from wirepost.errors import InvalidRequest

PREFIX = "/v2/enqueue/"


async def enqueue(request: web.Request) -> web.Response:
    raw_queue, slash, _ = request.raw_path[len(PREFIX) :].partition("/")
    if not slash:
        raise InvalidRequest("use POST /v2/enqueue/<queue>/<destination>")
    queue = check_name(unquote(raw_queue))
    target = parse.split_target(request.raw_path, f"{PREFIX}{raw_queue}/")
    return await publish_to(request, target, queue_name=queue)
