"""Query-string parsing shared by list endpoints: cursors, counts, orders, multi-value filters.

Multi-value filters accept repeated parameters (``label=a&label=b``) and comma lists
(``label=a,b``): OR within one filter, AND across filters (QSTASH_API.md §3.6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from multidict import MultiMapping

from wirepost.clock import from_millis
from wirepost.errors import InvalidRequest


def values(query: MultiMapping[str], *names: str) -> list[str] | None:
    """Every value given for any of ``names`` (aliases), split on commas; None if absent."""
    found: list[str] = []
    present = False
    for name in names:
        for raw in query.getall(name, []):
            present = True
            found.extend(part.strip() for part in raw.split(",") if part.strip())
    return found if present else None


def cursor(query: Mapping[str, str]) -> int | None:
    raw = query.get("cursor")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidRequest(f"cursor must be a cursor returned by a previous page, got {raw!r}")
    return int(raw)


def count(query: Mapping[str, str], *, default: int, maximum: int) -> int:
    raw = query.get("count")
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= maximum:
        raise InvalidRequest(f"count must be a whole number from 1 to {maximum}, got {raw!r}")
    return int(raw)


def latest_first(query: Mapping[str, str], *, default: bool) -> bool:
    raw = query.get("order")
    if raw is None or raw == "":
        return default
    if raw not in ("latestFirst", "earliestFirst"):
        raise InvalidRequest(f"order must be latestFirst or earliestFirst, got {raw!r}")
    return raw == "latestFirst"


def millis(query: Mapping[str, str], name: str, *, end: bool = False) -> datetime | None:
    """A Unix-milliseconds bound. With ``end`` it covers that whole millisecond: stored times
    have microseconds while the API shows milliseconds, so an inclusive upper bound equal to a
    returned ``time`` must still include that entry."""
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit():
        raise InvalidRequest(f"{name} must be Unix milliseconds, got {raw!r}")
    when = from_millis(int(raw))
    return when + timedelta(microseconds=999) if end else when


def integers(name: str, given: Sequence[str] | None) -> list[int] | None:
    if given is None:
        return None
    if not all(v.isdigit() and len(v) <= 18 for v in given):
        raise InvalidRequest(f"{name} must be whole numbers, got {', '.join(given)!r}")
    return [int(v) for v in given]


def next_cursor(page_end: int | None) -> dict[str, str]:
    """The ``cursor`` key is omitted at the end (the SDKs loop while it is present)."""
    return {"cursor": str(page_end)} if page_end is not None else {}


def message_filter_fields(params: MultiMapping[str]) -> dict[str, Any]:
    """The filters logs, the DLQ and bulk cancel share, as ``MessageFilter`` keyword arguments."""
    return {
        "urls": values(params, "url"),
        "topic_names": values(params, "topicName"),
        "queue_names": values(params, "queueName"),
        "schedule_ids": values(params, "scheduleId"),
        "labels": values(params, "label"),
        "from_time": millis(params, "fromDate"),
        "to_time": millis(params, "toDate", end=True),
        "caller_ips": values(params, "callerIp", "callerIP"),
        "flow_control_keys": values(params, "flowControlKey"),
        "hosts": values(params, "host"),
        "paths": values(params, "path"),
    }
