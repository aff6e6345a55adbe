"""``GET /v2/messages/{id}``, ``DELETE /v2/messages/{id}`` (cancel) and ``DELETE /v2/messages``
(bulk cancel).

Bulk cancel takes its parameters from a JSON body (Python and Go SDKs:
``{"messageIds": [...]}``, or filter fields) or, without a body, from the query string (JS SDK:
``messageIds`` or filters, plus ``count``). No body and no query cancels every pending message.
Unknown parameters are refused: a misspelt filter must not widen a cancel to everything.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from aiohttp import web
from multidict import MultiDict, MultiMapping

from wirepost.api import query
from wirepost.api.body import read_body
from wirepost.api.shapes import json_response, message_json
from wirepost.api.state import ApiState, state_of
from wirepost.errors import InvalidRequest, NotFound
from wirepost.store import messages
from wirepost.store.filters import MessageFilter

MAX_MESSAGE_IDS = 1000
MAX_CANCEL_COUNT = 500
CANCEL_ALL_CHUNK = 10_000
_ID_PARAMS = ("messageIds", "messageId")
_FILTER_PARAMS = (
    "topicName",
    "queueName",
    "url",
    "host",
    "path",
    "label",
    "flowControlKey",
    "scheduleId",
    "callerIp",
    "callerIP",
    "fromDate",
    "toDate",
)
_ACCEPTED = frozenset((*_ID_PARAMS, *_FILTER_PARAMS, "count", "cursor", "qstash_token"))


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


def _body_params(raw: bytes) -> MultiDict[str]:
    """A JSON object's fields as parameters: lists become repeated values; an empty list stays
    present (so ``{"messageIds": []}`` cancels nothing rather than everything)."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or not data:
        raise InvalidRequest(
            'body must be JSON like {"messageIds": ["msg_..."]} or hold filters such as '
            '{"queueName": "q"}; send no body (and no query) to cancel every pending message'
        )
    params: MultiDict[str] = MultiDict()
    for key, value in data.items():
        items = value if isinstance(value, list) else [value]
        if not items:
            params.add(key, "")
        for item in items:
            if isinstance(item, bool) or not isinstance(item, str | int):
                raise InvalidRequest(f"{key} must be a string, a number or a list of strings")
            params.add(key, str(item))
    return params


def pending_filter(params: MultiMapping[str]) -> MessageFilter:
    return MessageFilter(**query.message_filter_fields(params))


def _check_count(params: Mapping[str, str]) -> None:
    """``count`` is validated but not a limit: the Node SDK always sends ``count=100`` and
    documents that one call cancels every match (the SDK's behaviour wins over the old docs)."""
    query.count(params, default=MAX_CANCEL_COUNT, maximum=MAX_CANCEL_COUNT)


async def _cancel_matching(state: ApiState, where: MessageFilter) -> int:
    """Cancel every matching message in chunks (each chunk its own statement, so cancelling
    millions does not hold one huge transaction)."""
    now = state.clock.now()
    total = 0
    while True:
        done = await messages.cancel_matching(state.pool, where, limit=CANCEL_ALL_CHUNK, now=now)
        total += len(done)
        if len(done) < CANCEL_ALL_CHUNK:
            return total


async def cancel_messages(request: web.Request) -> web.Response:
    state = state_of(request)
    raw = await read_body(request)
    params: MultiMapping[str] = _body_params(raw) if raw.strip() else request.query
    unknown = sorted(set(params) - _ACCEPTED)
    if unknown:
        raise InvalidRequest(
            f"unknown parameter {unknown[0]!r}; use messageIds, or filters "
            f"({', '.join(_FILTER_PARAMS)}) with an optional count"
        )
    ids = query.values(params, *_ID_PARAMS)
    if ids is not None:
        if len(ids) > MAX_MESSAGE_IDS:
            raise InvalidRequest(
                f"{len(ids)} messageIds in one request; send at most {MAX_MESSAGE_IDS}"
            )
        cancelled = await messages.cancel_many(state.pool, ids, now=state.clock.now())
        return json_response({"cancelled": len(cancelled)})
    _check_count(params)
    count = await _cancel_matching(state, pending_filter(params))
    return json_response({"cancelled": count})
