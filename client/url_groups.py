"""``client.url_groups``: named sets of endpoints; a publish to the name fans out to each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from . import fields as f
from .call import Call, ignore, json_call, segment
from .fields import FromJson, wire
from .operation import M, Namespace, Operation

# ruff: noqa: RUF009 - wire() returns dataclasses.field(...), as config.py's _setting does


@dataclass(frozen=True)
class Endpoint(FromJson):
    """A URL in a group, optionally named (removable by name)."""

    url: str = wire("url")
    name: str | None = wire("name", f.opt_text, default=None)


@dataclass(frozen=True, kw_only=True)
class UrlGroup(FromJson):
    name: str = wire("name")
    created_at: datetime = wire("createdAt", f.millis)
    updated_at: datetime = wire("updatedAt", f.millis)
    endpoints: tuple[Endpoint, ...] = wire("endpoints", f.each(Endpoint))


def _path(name: str, tail: str = "") -> str:
    return f"/v2/topics/{segment('url group name', name)}{tail}"


def upsert_endpoints(group: str, endpoints: Sequence[Endpoint | str]) -> Call[None]:
    """Add endpoints (an ``Endpoint`` or a bare URL) to the group, creating it if needed; an
    endpoint already there by URL gets the new name."""
    if isinstance(endpoints, str) or not endpoints:
        raise ValueError("endpoints must be a non-empty list of Endpoint or URL strings")
    items = [Endpoint(e) if isinstance(e, str) else e for e in endpoints]
    body = {
        "endpoints": [
            {"url": e.url, **({"name": e.name} if e.name is not None else {})} for e in items
        ]
    }
    return json_call("POST", _path(group, "/endpoints"), ignore, body)


def remove_endpoints(
    group: str, *, urls: Sequence[str] = (), names: Sequence[str] = ()
) -> Call[None]:
    """Remove endpoints by URL and/or name; the group goes away with its last endpoint."""
    if isinstance(urls, str) or isinstance(names, str):
        raise ValueError("urls and names must be lists, not one string")
    items = [{"url": u} for u in urls] + [{"name": n} for n in names]
    if not items:
        raise ValueError("give the urls and/or names of the endpoints to remove")
    return json_call("DELETE", _path(group, "/endpoints"), ignore, {"endpoints": items})


def get_url_group(name: str) -> Call[UrlGroup]:
    """One group and its endpoints (404 if there is none)."""
    return Call("GET", _path(name), UrlGroup.from_json)


def list_url_groups() -> Call[list[UrlGroup]]:
    """Every URL group."""
    return Call("GET", "/v2/topics", UrlGroup.list_from_json)


def delete_url_group(name: str) -> Call[None]:
    """Delete a group (no error if it does not exist)."""
    return Call("DELETE", _path(name), ignore)


class UrlGroups(Namespace[M]):
    upsert_endpoints = Operation(upsert_endpoints)
    remove_endpoints = Operation(remove_endpoints)
    get = Operation(get_url_group)
    list = Operation(list_url_groups)
    delete = Operation(delete_url_group)
