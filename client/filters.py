"""Filters for the log (events) and the DLQ, as query parameters (QSTASH_API.md §3.6). Pure.

A filter given a list matches any of its values; different filters must all match.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, TypedDict

from .durations import Instant, unix_millis

Many = str | Sequence[str]
Order = Literal["earliest", "latest"]


class Filter(TypedDict, total=False):
    message_id: Many
    url: Many
    url_group: Many
    queue: Many
    schedule_id: Many
    label: Many
    caller_ip: Many
    flow_control_key: Many
    from_date: Instant
    to_date: Instant


class EventFilter(Filter, total=False):
    """``state`` takes CREATED, ACTIVE, DELIVERED, ERROR, RETRY, FAILED, CANCEL_REQUESTED,
    CANCELED, or IN_PROGRESS (= ACTIVE, RETRY or ERROR); ``host`` and ``path`` match the URL."""

    state: Many
    host: Many
    path: Many


class DlqFilter(Filter, total=False):
    """``response_status`` matches the destination's last answer (0: no answer)."""

    response_status: int | Sequence[int]


_WIRE_NAMES = {
    "message_id": "messageId",
    "url": "url",
    "url_group": "topicName",
    "queue": "queueName",
    "schedule_id": "scheduleId",
    "label": "label",
    "caller_ip": "callerIp",
    "flow_control_key": "flowControlKey",
    "from_date": "fromDate",
    "to_date": "toDate",
    "state": "state",
    "host": "host",
    "path": "path",
    "response_status": "responseStatus",
}


def filter_params(filters: Mapping[str, object]) -> list[tuple[str, str]]:
    """Repeated query parameters for each filter value; an empty list is refused (it would
    silently match everything)."""
    params: list[tuple[str, str]] = []
    for name, value in filters.items():
        wire = _WIRE_NAMES.get(name)
        if wire is None:
            raise ValueError(f"unknown filter {name!r}; use one of {', '.join(_WIRE_NAMES)}")
        if isinstance(value, int | datetime) and name in ("from_date", "to_date"):
            params.append((wire, unix_millis(name, value)))
        elif isinstance(value, str | int):
            params.append((wire, str(value)))
        elif isinstance(value, Sequence) and value:
            params.extend((wire, str(v)) for v in value)
        else:
            raise ValueError(f"{name} must be a value or a non-empty list of values")
    return params


def page_params(
    cursor: str | None, count: int | None, order: Order | None
) -> list[tuple[str, str]]:
    params = [("cursor", cursor)] if cursor else []
    if count is not None:
        params.append(("count", str(count)))
    if order is not None:
        if order not in ("earliest", "latest"):
            raise ValueError(f"order must be 'earliest' or 'latest', got {order!r}")
        params.append(("order", f"{order}First"))
    return params
