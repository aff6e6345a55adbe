"""A small typed client for Wirepost (and Upstash QStash v2): ``Client`` and ``AsyncClient``.

    from wirepost_client import Client

    with Client("http://127.0.0.1:8080", "<token>") as client:
        published = client.publish_json("https://example.com/hook", {"hello": "world"}, delay="10s")
        print(published.message_id)

Needs only httpx. Imports nothing from the server. See docs/client.md.
"""

from __future__ import annotations

from .call import Page
from .client import AsyncClient, Client
from .durations import Duration, Instant
from .errors import WirepostConnectionError, WirepostError
from .filters import DlqFilter, EventFilter
from .flow_control import FlowControlInfo, GlobalParallelism
from .keys import SigningKeys
from .options import FlowControl, PublishOptions, ScheduleOptions
from .publishing import BatchJsonMessage, BatchMessage
from .queues import Queue
from .results import DlqMessage, Event, Message, Published, PublishedMessage
from .schedules import Schedule
from .settings import RetryPolicy
from .url_groups import Endpoint, UrlGroup

__all__ = [
    "AsyncClient",
    "BatchJsonMessage",
    "BatchMessage",
    "Client",
    "DlqFilter",
    "DlqMessage",
    "Duration",
    "Endpoint",
    "Event",
    "EventFilter",
    "FlowControl",
    "FlowControlInfo",
    "GlobalParallelism",
    "Instant",
    "Message",
    "Page",
    "PublishOptions",
    "Published",
    "PublishedMessage",
    "Queue",
    "RetryPolicy",
    "Schedule",
    "ScheduleOptions",
    "SigningKeys",
    "UrlGroup",
    "WirepostConnectionError",
    "WirepostError",
]
