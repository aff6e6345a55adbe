"""Flow control: ``GET /v2/flowControl[/{key}]``, pause, resume, pin, unpin, resetRate,
and ``GET /v2/globalParallelism``.

A key limits, across every replica, how many of its messages are in flight (``parallelism``)
and how many attempts start per ``period`` (``rate``). The latest message's limits become the
key's unless pinned.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from wirepost.api import parse
from wirepost.api.shapes import json_response
from wirepost.api.state import state_of
from wirepost.domain import Gate
from wirepost.errors import InvalidRequest, NotFound
from wirepost.store import gates


def flow_json(g: Gate, now_s: float) -> dict[str, Any]:
    window_open = (
        g.rate_period_start is not None
        and g.rate_period_start.timestamp() + g.period_seconds > now_s
    )
    return {
        "flowControlKey": g.name,
        "waitListSize": g.waiting,
        "parallelismMax": g.parallelism or 0,
        "parallelismCount": g.admitted,
        "rateMax": g.rate or 0,
        "rateCount": g.rate_count if window_open else 0,
        "ratePeriod": g.period_seconds,
        "ratePeriodStart": int(g.rate_period_start.timestamp()) if g.rate_period_start else 0,
        "isPaused": g.paused,
        "isPinnedParallelism": g.pinned_parallelism,
        "isPinnedRate": g.pinned_rate,
    }


async def list_flow_controls(request: web.Request) -> web.Response:
    state = state_of(request)
    search = request.query.get("search", "")
    found = await gates.list_gates(state.pool, gates.FLOW)
    now_s = state.clock.now().timestamp()
    return json_response([flow_json(g, now_s) for g in found if search in g.name])


async def get_flow_control(request: web.Request) -> web.Response:
    state = state_of(request)
    key = request.match_info["key"]
    found = await gates.find(state.pool, gates.FLOW, key)
    if found is None:
        raise NotFound(f"no flow-control key {key!r} (keys appear with their first message)")
    return json_response(flow_json(found, state.clock.now().timestamp()))


def _missing(key: str) -> NotFound:
    return NotFound(f"no flow-control key {key!r} (keys appear with their first message)")


async def _set_paused(request: web.Request, paused: bool) -> web.Response:
    state = state_of(request)
    key = request.match_info["key"]
    if not await gates.set_paused(
        state.pool, gates.FLOW, key, paused=paused, now=state.clock.now()
    ):
        raise _missing(key)
    state.waker.wake()
    return json_response({})


async def pause_flow_control(request: web.Request) -> web.Response:
    return await _set_paused(request, True)


async def resume_flow_control(request: web.Request) -> web.Response:
    return await _set_paused(request, False)


def _optional_int(request: web.Request, name: str, low: int, high: int) -> int | None:
    raw = request.query.get(name)
    return None if raw in (None, "") else parse.parse_int(name, raw, low, high)


async def pin_flow_control(request: web.Request) -> web.Response:
    state = state_of(request)
    key = request.match_info["key"]
    parallelism = _optional_int(request, "parallelism", 1, parse.MAX_FLOW_PARALLELISM)
    rate = _optional_int(request, "rate", 1, parse.MAX_FLOW_RATE)
    period = _optional_int(request, "period", 1, parse.MAX_FLOW_PERIOD_SECONDS)
    if parallelism is None and rate is None:
        raise InvalidRequest("pin needs parallelism=<n> and/or rate=<n> (with period=<seconds>)")
    if not await gates.pin(
        state.pool, key, parallelism=parallelism, rate=rate, period=period, now=state.clock.now()
    ):
        raise _missing(key)
    state.waker.wake()
    return json_response({})


async def unpin_flow_control(request: web.Request) -> web.Response:
    state = state_of(request)
    key = request.match_info["key"]
    parallelism = parse.parse_bool("parallelism", request.query.get("parallelism"))
    rate = parse.parse_bool("rate", request.query.get("rate"))
    if not await gates.unpin(
        state.pool, key, parallelism=parallelism, rate=rate, now=state.clock.now()
    ):
        raise _missing(key)
    return json_response({})


async def reset_rate(request: web.Request) -> web.Response:
    state = state_of(request)
    key = request.match_info["key"]
    if not await gates.reset_rate(state.pool, key, now=state.clock.now()):
        raise _missing(key)
    state.waker.wake()
    return json_response({})


async def global_parallelism(request: web.Request) -> web.Response:
    state = state_of(request)
    count = await gates.in_flight(state.pool, now=state.clock.now())
    return json_response(
        {"parallelismMax": state.settings.delivery_concurrency, "parallelismCount": count}
    )
