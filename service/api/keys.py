"""``GET /v2/keys`` and ``POST /v2/keys/rotate`` (Go SDK: ``POST /v2/rotate``)."""

from __future__ import annotations

from aiohttp import web

from wirepost.api.shapes import json_response
from wirepost.api.state import state_of
from wirepost.errors import Conflict
from wirepost.signing import generate_signing_key
from wirepost.store import signing_keys


async def get_keys(request: web.Request) -> web.Response:
    keys = await signing_keys.get(state_of(request).pool)
    return json_response({"current": keys.current, "next": keys.next})


async def rotate_keys(request: web.Request) -> web.Response:
    """New current = old next, new next = fresh. Receivers accept both keys, so rotation needs
    no downtime as long as they reload the pair before the next rotation."""
    state = state_of(request)
    if state.settings.current_signing_key is not None:
        raise Conflict(
            "signing keys come from WIREPOST_CURRENT_SIGNING_KEY and "
            "WIREPOST_NEXT_SIGNING_KEY; rotate by changing those variables, or unset "
            "them to let Wirepost keep and rotate the keys in the database"
        )
    keys = await signing_keys.rotate(state.pool, generate_signing_key())
    return json_response({"current": keys.current, "next": keys.next})
