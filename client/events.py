"""``client.events``: the log of every message's state changes, newest first by default."""

from __future__ import annotations

from typing import Unpack

from .call import Call, Page, page_of
from .filters import EventFilter, Order, filter_params, page_params
from .operation import M, Namespace, Operation, Pages
from .results import Event


def list_events(
    *,
    cursor: str | None = None,
    count: int | None = None,
    order: Order | None = None,
    **filters: Unpack[EventFilter],
) -> Call[Page[Event]]:
    """One page of log entries (newest first unless ``order="earliest"``; ``count`` up to
    1000) matching ``filters``; pass the page's ``cursor`` back for the next page."""
    params = [*page_params(cursor, count, order), *filter_params(filters)]
    return Call("GET", "/v2/events", page_of("events", Event.from_json), params=params)


class Events(Namespace[M]):
    list = Operation(list_events)
    iterate = Pages(list_events)
