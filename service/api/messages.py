"""``GET /v2/messages/{id}`` and ``DELETE /v2/messages/{id}`` (cancel)."""

from __future__ import annotations

from aiohttp import web

from wirepost.api.shapes import json_response, message_json
from wirepost.api.state import state_of
from wirepost.errors import NotFound
from wirepost.store import messages


async def get_message(request: web.Request) -> web.Response:
    message_id = request.match_info["message_id"]
    message = await messages.find(state_of(request).pool, message_id)
    if message is None:
        raise NotFound(f"no message {message_id} (unknown or past WIREPOST_RETENTION)")
    return json_response(message_json(message))


async def cancel_message(request: web.Request) -> web.Response:
    state = state_of(request)
    message_id = request.match_info["message_id"]
    cancelled = await messages.cancel_many(state.pool, [message_id], now=state.clock.now())
    if not cancelled:
        raise NotFound(
            f"message {message_id} is not waiting for delivery (unknown, delivered, "
            "failed or already cancelled)"
        )
    return json_response({"cancelled": len(cancelled)})
