"""The message filters that logs, the DLQ and bulk cancel share (QSTASH_API.md §3.6).

Each field: None = any; a sequence = any of these values (OR); fields AND together. ``args()``
gives the query parameters in the order every filtering query lists them (see the named blocks
that take "message filters").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


def listed(values: Sequence[Any] | None) -> list[Any] | None:
    return list(values) if values is not None else None


@dataclass(frozen=True)
class MessageFilter:
    urls: Sequence[str] | None = None
    topic_names: Sequence[str] | None = None
    queue_names: Sequence[str] | None = None
    schedule_ids: Sequence[str] | None = None
    labels: Sequence[str] | None = None
    from_time: datetime | None = None
    to_time: datetime | None = None
    caller_ips: Sequence[str] | None = None
    flow_control_keys: Sequence[str] | None = None
    hosts: Sequence[str] | None = None
    paths: Sequence[str] | None = None

    def args(self) -> list[object]:
        return [
            listed(self.urls),
            listed(self.topic_names),
            listed(self.queue_names),
            listed(self.schedule_ids),
            listed(self.labels),
            self.from_time,
            self.to_time,
            listed(self.caller_ips),
            listed(self.flow_control_keys),
            [h.lower() for h in self.hosts] if self.hosts is not None else None,
            listed(self.paths),
        ]


@dataclass(frozen=True)
class EventFilter(MessageFilter):
    message_ids: Sequence[str] | None = None
    states: Sequence[str] | None = None

    def args(self) -> list[object]:
        return [listed(self.message_ids), listed(self.states), *super().args()]


@dataclass(frozen=True)
class DeadLetterFilter(MessageFilter):
    ids: Sequence[int] | None = None
    message_ids: Sequence[str] | None = None
    response_statuses: Sequence[int] | None = None

    def args(self) -> list[object]:
        return [
            listed(self.ids),
            listed(self.message_ids),
            listed(self.response_statuses),
            *super().args(),
        ]
