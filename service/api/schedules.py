"""Cron schedules: ``/v2/schedules`` — create or overwrite, list, get, delete, pause, resume.

``POST /v2/schedules/{destination}`` takes the destination from the raw request target as
publish does (a URL, or the name of an existing URL group), ``Upstash-Cron`` (required; five
fields, optional ``CRON_TZ=<zone>`` prefix), every publish header, ``Upstash-Schedule-Id``
(create or overwrite that id) and ``Upstash-Queue-Name``; it answers ``{"scheduleId"}``.
``POST /v2/schedules/<id>/pause|resume`` (a single path segment before the action, so never a
URL) pauses or resumes, as ``PATCH`` does. ``DELETE`` answers 200 whether or not the schedule
existed (QStash documents no 404 there). At most ``MAX_SCHEDULES`` schedules exist (412 beyond).
"""

from __future__ import annotations

import base64
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from wirepost import cron
from wirepost.api import parse, spec
from wirepost.api.body import read_body
from wirepost.api.publish import check_destination
from wirepost.api.shapes import json_response, visible_body, visible_headers
from wirepost.api.state import ApiState, state_of
from wirepost.api.topics import resource_name
from wirepost.clock import to_millis
from wirepost.domain import Message, Schedule, new_id
from wirepost.errors import InvalidRequest, LimitExceeded, NotFound
from wirepost.store import schedules, url_groups

PREFIX = "/v2/schedules/"  # also "/v2/Schedules/" (qstash-go): same length, sliced alike
MAX_SCHEDULES = 10_000
_ACTIONS = {"pause": True, "resume": False}


async def post_schedule(request: web.Request) -> web.Response:
    """``POST /v2/schedules/<rest>``: pause/resume when ``<rest>`` is ``<id>/pause|resume``,
    otherwise create a schedule for the destination ``<rest>``."""
    path = request.raw_path[len(PREFIX) :].partition("?")[0]
    head, slash, action = path.rpartition("/")
    if slash and head and "/" not in head and action in _ACTIONS:
        return await _set_paused(request, head, paused=_ACTIONS[action])
    return await create_schedule(request)


async def create_schedule(request: web.Request) -> web.Response:
    state = state_of(request)
    target = parse.split_target(request.raw_path, PREFIX)
    headers = parse.header_view(request.headers, target)
    cron_spec = _cron(headers.get("Upstash-Cron"))
    given_id = headers.get("Upstash-Schedule-Id")
    schedule_id = resource_name("Upstash-Schedule-Id", given_id) if given_id else new_id("scd_")
    body = await read_body(request, state.settings.max_body_size)
    now = state.clock.now()
    delay = headers.get("Upstash-Delay")
    schedule = Schedule(
        id=schedule_id,
        destination=await _destination(state, target),
        cron=cron_spec.expression,
        template=_template(state, headers, body, now=now, caller_ip=request.remote),
        created_at=now,
        next_fire_at=cron.next_fire(cron_spec, now),
        delay=parse.parse_delay("Upstash-Delay", delay) if delay else timedelta(0),
    )
    if not await schedules.upsert(state.pool, schedule, limit=MAX_SCHEDULES):
        raise LimitExceeded(
            f"there are already {MAX_SCHEDULES} schedules, the most Wirepost keeps; "
            "delete some (DELETE /v2/schedules/<id>) before creating more"
        )
    return json_response({"scheduleId": schedule_id})


def _template(
    state: ApiState,
    headers: parse.PublishHeaders,
    body: bytes,
    *,
    now: datetime,
    caller_ip: str | None,
) -> Message:
    """What each tick sends: the publish template, plus the queue it is enqueued to."""
    template = spec.build_template(
        headers, body=body, settings=state.settings, now=now, caller_ip=caller_ip
    )
    queue = headers.get("Upstash-Queue-Name")
    if not queue:
        return template
    if template.flow_control_key:
        raise InvalidRequest(
            "Upstash-Flow-Control-Key cannot be combined with Upstash-Queue-Name: the "
            "queue's parallelism already limits the schedule's messages (POST /v2/queues)"
        )
    return replace(template, queue_name=resource_name("Upstash-Queue-Name", queue))


def _cron(value: str | None) -> cron.CronSpec:
    if not value:
        raise InvalidRequest(
            "Upstash-Cron is required: send a cron expression such as '*/5 * * * *' "
            "(optionally prefixed with 'CRON_TZ=<IANA zone> ')"
        )
    try:
        return cron.parse_cron(value)
    except ValueError as exc:
        raise InvalidRequest(f"Upstash-Cron: {exc}") from None


async def _destination(state: ApiState, target: parse.Target) -> str:
    """A checked URL, or the name of an existing URL group."""
    destination = target.destination
    if target.is_url:
        return check_destination(state, destination)
    if not destination:
        raise InvalidRequest(
            "the destination is missing: POST /v2/schedules/<URL or URL-group name>"
        )
    if "://" in destination:
        raise InvalidRequest(
            f"destination must start with http:// or https://, got {destination[:100]!r}"
        )
    name = resource_name("destination (a URL or a URL-group name)", destination)
    if await url_groups.find_endpoints(state.pool, name) is None:
        raise NotFound(
            f"destination {name!r} is not a URL (http:// or https://) and no URL group has "
            f"that name; add endpoints first (POST /v2/topics/{name}/endpoints)"
        )
    return name


async def list_schedules(request: web.Request) -> web.Response:
    found = await schedules.list_all(state_of(request).pool)
    return json_response([schedule_json(s) for s in found])


async def get_schedule(request: web.Request) -> web.Response:
    schedule_id = request.match_info["schedule_id"]
    found = await schedules.find(state_of(request).pool, schedule_id)
    if found is None:
        raise NotFound(f"no schedule {schedule_id!r}")
    return json_response(schedule_json(found))


async def delete_schedule(request: web.Request) -> web.Response:
    await schedules.delete(state_of(request).pool, request.match_info["schedule_id"])
    return web.Response(status=200)


async def pause_schedule(request: web.Request) -> web.Response:
    return await _set_paused(request, request.match_info["schedule_id"], paused=True)


async def resume_schedule(request: web.Request) -> web.Response:
    return await _set_paused(request, request.match_info["schedule_id"], paused=False)


async def _set_paused(request: web.Request, schedule_id: str, *, paused: bool) -> web.Response:
    if not await schedules.set_paused(state_of(request).pool, schedule_id, paused=paused):
        raise NotFound(f"no schedule {schedule_id!r}")
    return web.Response(status=200)


def schedule_json(s: Schedule) -> dict[str, Any]:
    """QSTASH_API.md §12.4: ``delay`` and ``timeout`` in seconds, times in Unix ms, both
    spellings of the caller IP, ``Upstash-Redact-Fields`` applied to header and body;
    ``lastScheduleStates`` only once the schedule has fired."""
    t = s.template
    flow = t.flow_control or {}
    fields: dict[str, Any] = {
        "scheduleId": s.id,
        "destination": s.destination,
        "cron": s.cron,
        "createdAt": to_millis(s.created_at),
        "method": t.method,
        "retries": t.max_retries,
        "isPaused": s.paused,
        "header": visible_headers(t),
        "callbackHeader": t.callback_headers,
        "failureCallbackHeader": t.failure_callback_headers,
        "delay": int(s.delay.total_seconds()) or None,
        "timeout": -(-t.timeout_ms // 1000) if t.timeout_ms else None,
        "callback": t.callback,
        "failureCallback": t.failure_callback,
        "callerIP": t.caller_ip,
        "callerIp": t.caller_ip,
        "queueName": t.queue_name,
        "flowControlKey": t.flow_control_key,
        "parallelism": flow.get("parallelism"),
        "rate": flow.get("rate"),
        "period": flow.get("period") if t.flow_control_key else None,
        "retryDelayExpression": t.retry_delay,
        "label": t.labels[0] if t.labels else None,
        "labels": list(t.labels) if t.labels else None,
        "lastScheduleTime": to_millis(s.last_fire_at) if s.last_fire_at else None,
        "nextScheduleTime": to_millis(s.next_fire_at),
        "lastScheduleStates": s.last_states if s.last_fire_at else None,
        "error": s.error,
    }
    body = visible_body(t)
    try:
        fields["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        fields["bodyBase64"] = base64.b64encode(body).decode()
    return {k: v for k, v in fields.items() if v is not None}
