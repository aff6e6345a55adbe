"""``GET /v2/events`` (what the SDKs call; key ``events``, state ``CANCELED``) and
``GET /v2/logs`` (the documented path; key ``logs``, state ``CANCELLED``): the same log entries."""

from __future__ import annotations

from aiohttp import web

from wirepost.api import query
from wirepost.api.shapes import event_json, json_response
from wirepost.api.state import state_of
from wirepost.domain import State
from wirepost.errors import InvalidRequest
from wirepost.store import events
from wirepost.store.filters import EventFilter

_IN_PROGRESS = ["ACTIVE", "RETRY", "ERROR"]
_KNOWN_STATES = {s.value for s in State}


def _states(given: list[str] | None) -> list[str] | None:
    if given is None:
        return None
    states: list[str] = []
    for raw in given:
        state = raw.upper()
        if state == "IN_PROGRESS":
            states.extend(_IN_PROGRESS)
        elif state == "CANCELLED":
            states.append("CANCELED")
        elif state in _KNOWN_STATES:
            states.append(state)
        else:
            raise InvalidRequest(
                f"unknown state {raw!r}: use one of "
                f"{', '.join(sorted(_KNOWN_STATES | {'IN_PROGRESS'}))}"
            )
    return states


def event_filter(request: web.Request) -> EventFilter:
    q = request.query
    return EventFilter(
        message_ids=query.values(q, "messageIds") or query.values(q, "messageId"),
        states=_states(query.values(q, "state")),
        **query.message_filter_fields(q),
    )


async def _page(request: web.Request, key: str, cancelled: str) -> web.Response:
    q = request.query
    page, end = await events.list_page(
        state_of(request).pool,
        event_filter(request),
        after=query.cursor(q),
        limit=query.count(q, default=100, maximum=1000),
        latest_first=query.latest_first(q, default=True),
    )
    return json_response(
        {
            **query.next_cursor(end),
            key: [event_json(e, cancelled_spelling=cancelled) for e in page],
        }
    )


async def list_events(request: web.Request) -> web.Response:
    return await _page(request, "events", "CANCELED")


async def list_logs(request: web.Request) -> web.Response:
    return await _page(request, "logs", "CANCELLED")
