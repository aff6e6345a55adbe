"""URL groups (QStash "topics"): ``/v2/topics`` — upsert and remove endpoints, get, list, delete.

Group names are ``[A-Za-z0-9._-]+``; endpoint URLs are checked like publish destinations (http or
https, and the destination policy). ``DELETE /v2/topics/{name}`` answers 200 even when there is
no such group, as QStash does (the Python SDK's tests rely on it).
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from wirepost.api.body import read_body
from wirepost.api.publish import check_destination
from wirepost.api.shapes import json_response
from wirepost.api.state import ApiState, state_of
from wirepost.clock import to_millis
from wirepost.domain import Endpoint, UrlGroup
from wirepost.errors import InvalidRequest
from wirepost.store import url_groups

MAX_NAME_LENGTH = 128
MAX_ENDPOINTS_PER_GROUP = 1000
MAX_ENDPOINTS_PER_REQUEST = 1000
MAX_ENDPOINT_NAME_LENGTH = 256
_NAME = re.compile(r"[A-Za-z0-9._-]+")


def resource_name(kind: str, value: str) -> str:
    """A queue, schedule or URL-group name: 1 to 128 characters from ``A-Z a-z 0-9 . _ -``
    (``kind`` names it in the error)."""
    if not _NAME.fullmatch(value) or len(value) > MAX_NAME_LENGTH:
        raise InvalidRequest(
            f"{kind} {value[:140]!r} is invalid: use 1-{MAX_NAME_LENGTH} characters "
            "from A-Z a-z 0-9 . _ -"
        )
    return value


def check_name(name: str) -> str:
    return resource_name("URL group name", name)


def group_json(group: UrlGroup) -> dict[str, Any]:
    return {
        "name": group.name,
        "createdAt": to_millis(group.created_at),
        "updatedAt": to_millis(group.updated_at),
        "endpoints": [
            {"url": e.url, **({"name": e.name} if e.name is not None else {})}
            for e in group.endpoints
        ],
    }


def _group_name(request: web.Request) -> str:
    return check_name(request.match_info["name"])


async def _endpoint_items(request: web.Request, example: str) -> list[dict[str, Any]]:
    """The objects of ``{"endpoints": [...]}``, bounded in number."""
    try:
        data = orjson.loads(await read_body(request))
    except orjson.JSONDecodeError:
        raise InvalidRequest(f"body must be JSON like {example}") from None
    items = data.get("endpoints") if isinstance(data, dict) else None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidRequest(f"body must be JSON like {example}")
    if not items:
        raise InvalidRequest(f"endpoints must not be empty: send JSON like {example}")
    if len(items) > MAX_ENDPOINTS_PER_REQUEST:
        raise InvalidRequest(
            f"{len(items)} endpoints in one request; send at most {MAX_ENDPOINTS_PER_REQUEST}"
        )
    return items


def _endpoint_name(index: int, value: object) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value
        or len(value) > MAX_ENDPOINT_NAME_LENGTH
        or not value.isprintable()
    ):
        raise InvalidRequest(
            f"endpoints[{index}].name must be text of 1 to {MAX_ENDPOINT_NAME_LENGTH} "
            "printable characters"
        )
    return value


def _endpoint(state: ApiState, index: int, item: dict[str, Any]) -> Endpoint:
    url = item.get("url")
    if not isinstance(url, str):
        raise InvalidRequest(f"endpoints[{index}].url is required and must be a URL string")
    return Endpoint(
        check_destination(state, url, f"endpoints[{index}].url"),
        _endpoint_name(index, item.get("name")),
    )


async def upsert_endpoints(request: web.Request) -> web.Response:
    state = state_of(request)
    name = _group_name(request)
    items = await _endpoint_items(request, '{"endpoints": [{"url": "https://...", "name": "a"}]}')
    endpoints = [_endpoint(state, i, item) for i, item in enumerate(items)]
    await url_groups.upsert_endpoints(
        state.pool,
        name,
        endpoints,
        now=state.clock.now(),
        max_endpoints=MAX_ENDPOINTS_PER_GROUP,
    )
    return web.Response(status=200)


async def remove_endpoints(request: web.Request) -> web.Response:
    state = state_of(request)
    name = _group_name(request)
    items = await _endpoint_items(request, '{"endpoints": [{"url": "https://..."}, {"name": "a"}]}')
    urls, names = [], []
    for i, item in enumerate(items):
        url, endpoint_name = item.get("url"), item.get("name")
        if url is None and endpoint_name is None:
            raise InvalidRequest(f"endpoints[{i}] needs a url or a name")
        if url is not None:
            if not isinstance(url, str):
                raise InvalidRequest(f"endpoints[{i}].url must be a string")
            urls.append(url)
        if endpoint_name is not None:
            names.append(_endpoint_name(i, endpoint_name) or "")
    await url_groups.remove_endpoints(
        state.pool, name, urls=urls, names=names, now=state.clock.now()
    )
    return web.Response(status=200)


async def list_groups(request: web.Request) -> web.Response:
    groups = await url_groups.list_all(state_of(request).pool)
    return json_response([group_json(g) for g in groups])


async def get_group(request: web.Request) -> web.Response:
    group = await url_groups.get(state_of(request).pool, _group_name(request))
    return json_response(group_json(group))


async def delete_group(request: web.Request) -> web.Response:
    await url_groups.delete(state_of(request).pool, _group_name(request))
    return web.Response(status=200)
