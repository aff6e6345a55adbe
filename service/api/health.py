"""``GET /healthz``: 200 when the database answers, 503 otherwise (no token needed)."""

from __future__ import annotations

from aiohttp import web

from wirepost.api.shapes import json_response
from wirepost.api.state import state_of
from wirepost.store import deliveries


async def healthz(request: web.Request) -> web.Response:
    state = state_of(request)
    await deliveries.next_due_at(state.pool, now=state.clock.now())  # a cheap read proves the DB
    return json_response({"status": "ok"})
