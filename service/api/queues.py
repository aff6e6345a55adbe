"""Queues: ``POST /v2/queues`` (upsert), list, get, delete, pause, resume.

A queue delivers in enqueue order with at most ``parallelism`` messages in progress (a message
keeps its slot through its retries and callbacks), across every replica. Enqueueing to an
unknown queue creates it with parallelism 1.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from wirepost.api.body import read_body
from wirepost.api.shapes import json_response
from wirepost.api.state import state_of
from wirepost.clock import to_millis
from wirepost.domain import Gate
from wirepost.errors import InvalidRequest, LimitExceeded, NotFound
from wirepost.store import gates, messages
from wirepost.store.db import transaction

NAME = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
MAX_PARALLELISM = 1000


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise InvalidRequest(
            f"queue name {name[:140]!r} is invalid: use 1-128 characters from A-Z a-z 0-9 . _ -"
        )
    return name


def queue_json(q: Gate) -> dict[str, Any]:
    return {
        "name": q.name,
        "parallelism": q.parallelism or 1,
        "paused": q.paused,
        "createdAt": to_millis(q.created_at),
        "updatedAt": to_millis(q.updated_at),
        "lag": q.waiting + q.admitted,
    }


async def upsert_queue(request: web.Request) -> web.Response:
    state = state_of(request)
    try:
        data = orjson.loads(await read_body(request))
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("queueName"), str):
        raise InvalidRequest(
            'body must be JSON like {"queueName": "q", "parallelism": 1, "paused": false}'
        )
    name = check_name(data["queueName"])
    parallelism = data.get("parallelism", 1)
    if parallelism is None:
        parallelism = 1
    if not isinstance(parallelism, int) or isinstance(parallelism, bool) or parallelism < 1:
        raise InvalidRequest(
            f"parallelism must be a whole number of at least 1, got {parallelism!r}"
        )
    if parallelism > MAX_PARALLELISM:
        raise LimitExceeded(f"parallelism {parallelism} is above the maximum of {MAX_PARALLELISM}")
    paused = data.get("paused", False)
    if not isinstance(paused, bool):
        raise InvalidRequest(f"paused must be true or false, got {paused!r}")
    await gates.upsert_queue(
        state.pool, name, parallelism=parallelism, paused=paused, now=state.clock.now()
    )
    state.waker.wake()  # more parallelism or a resume may admit waiting messages
    return json_response({})


async def list_queues(request: web.Request) -> web.Response:
    found = await gates.list_gates(state_of(request).pool, gates.QUEUE)
    return json_response([queue_json(q) for q in found])


async def get_queue(request: web.Request) -> web.Response:
    name = check_name(request.match_info["queue"])
    queue = await gates.find(state_of(request).pool, gates.QUEUE, name)
    if queue is None:
        raise NotFound(f"no queue {name!r}")
    return json_response(queue_json(queue))


async def delete_queue(request: web.Request) -> web.Response:
    """Delete the queue; messages still waiting in it are cancelled (logged CANCELED)."""
    state = state_of(request)
    name = check_name(request.match_info["queue"])
    now = state.clock.now()
    async with transaction(state.pool) as conn:
        waiting = await gates.pending_message_ids(conn, gates.QUEUE, name)
        await messages.cancel_many(conn, waiting, now=now)
        await gates.delete(conn, gates.QUEUE, name)
    return json_response({})


async def _set_paused(request: web.Request, paused: bool) -> web.Response:
    state = state_of(request)
    name = check_name(request.match_info["queue"])
    if not await gates.set_paused(
        state.pool, gates.QUEUE, name, paused=paused, now=state.clock.now()
    ):
        raise NotFound(f"no queue {name!r}")
    state.waker.wake()
    return json_response({})


async def pause_queue(request: web.Request) -> web.Response:
    return await _set_paused(request, True)


async def resume_queue(request: web.Request) -> web.Response:
    return await _set_paused(request, False)
