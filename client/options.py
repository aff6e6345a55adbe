"""Publish options and the ``Upstash-*`` headers they become (QSTASH_API.md §5). Pure, except
that ``idempotent`` draws a random deduplication id.

Your own ``headers`` are forwarded to the destination: a name is sent as
``Upstash-Forward-<name>`` unless it is ``Content-Type`` or already starts with ``Upstash-``
(then it is sent as written, so any Upstash header the options do not cover can be given there).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict

from .durations import Duration, Instant, duration_text, unix_seconds


@dataclass(frozen=True)
class FlowControl:
    """Messages sharing ``key`` run at most ``parallelism`` at a time and start at most ``rate``
    times per ``period`` (default one second), across every Wirepost replica."""

    key: str
    parallelism: int | None = None
    rate: int | None = None
    period: Duration | None = None

    def header_value(self) -> str:
        if self.parallelism is None and self.rate is None:
            raise ValueError("FlowControl needs parallelism and/or rate")
        parts = [f"parallelism={self.parallelism}"] if self.parallelism is not None else []
        if self.rate is not None:
            parts.append(f"rate={self.rate}")
        if self.period is not None:
            parts.append(f"period={duration_text('FlowControl period', self.period)}")
        return ", ".join(parts)


class MessageOptions(TypedDict, total=False):
    """How each message is delivered (publish, enqueue, batch items and schedules)."""

    headers: Mapping[str, str]
    delay: Duration
    retries: int
    retry_delay: str | int
    timeout: Duration
    method: str
    callback: str
    failure_callback: str
    label: str | Sequence[str]
    flow_control: FlowControl


class PublishOptions(MessageOptions, total=False):
    """Adds what only a publish takes: a start time and deduplication.

    ``idempotent`` (default True) sends a fresh random ``Upstash-Deduplication-Id`` with each
    call unless ``deduplication_id`` or ``content_based_deduplication`` is given, so a publish
    the client repeats after a lost connection is stored once."""

    not_before: Instant
    deduplication_id: str
    content_based_deduplication: bool
    idempotent: bool


class ScheduleOptions(MessageOptions, total=False):
    """Adds a schedule's own id (create-or-overwrite) and the queue its messages go to."""

    schedule_id: str
    queue: str


def forwarded(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        lowered = name.lower()
        keep = lowered == "content-type" or lowered.startswith("upstash-")
        out[name if keep else f"Upstash-Forward-{name}"] = value
    return out


def message_headers(options: MessageOptions) -> dict[str, str]:
    headers = forwarded(options.get("headers") or {})
    if "delay" in options:
        headers["Upstash-Delay"] = duration_text("delay", options["delay"])
    if "retries" in options:
        retries = options["retries"]
        if isinstance(retries, bool) or retries < 0:
            raise ValueError(f"retries must be a whole number of 0 or more, got {retries!r}")
        headers["Upstash-Retries"] = str(retries)
    if "retry_delay" in options:
        headers["Upstash-Retry-Delay"] = str(options["retry_delay"])
    if "timeout" in options:
        headers["Upstash-Timeout"] = duration_text("timeout", options["timeout"])
    if "method" in options:
        headers["Upstash-Method"] = options["method"].upper()
    if "callback" in options:
        headers["Upstash-Callback"] = options["callback"]
    if "failure_callback" in options:
        headers["Upstash-Failure-Callback"] = options["failure_callback"]
    if "label" in options:
        label = options["label"]
        headers["Upstash-Label"] = label if isinstance(label, str) else ",".join(label)
    if "flow_control" in options:
        headers["Upstash-Flow-Control-Key"] = options["flow_control"].key
        headers["Upstash-Flow-Control-Value"] = options["flow_control"].header_value()
    return headers


def new_deduplication_id() -> str:
    return f"wp-{uuid.uuid4().hex}"


def publish_headers(options: PublishOptions) -> tuple[dict[str, str], bool]:
    """The headers of a publish, and whether repeating it is harmless (it is deduplicated)."""
    headers = message_headers(options)
    if "not_before" in options:
        headers["Upstash-Not-Before"] = unix_seconds("not_before", options["not_before"])
    content_based = options.get("content_based_deduplication", False)
    if content_based:
        headers["Upstash-Content-Based-Deduplication"] = "true"
    dedup_id = options.get("deduplication_id") or next(
        (v for k, v in headers.items() if k.lower() == "upstash-deduplication-id"), None
    )
    if dedup_id is None and not content_based and options.get("idempotent", True):
        dedup_id = new_deduplication_id()
    if dedup_id is not None:
        headers["Upstash-Deduplication-Id"] = dedup_id
    return headers, dedup_id is not None or content_based


def schedule_headers(cron: str, options: ScheduleOptions) -> dict[str, str]:
    if not cron.strip():
        raise ValueError("cron must be a cron expression such as '*/5 * * * *'")
    headers = message_headers(options)
    headers["Upstash-Cron"] = cron
    if "schedule_id" in options:
        headers["Upstash-Schedule-Id"] = options["schedule_id"]
    if "queue" in options:
        headers["Upstash-Queue-Name"] = options["queue"]
    return headers
