"""What publishing, messages, the DLQ and the log answer, as frozen dataclasses read from the
server's camelCase JSON (QSTASH_API.md §12). Pure: no I/O.

Times are aware UTC datetimes, bodies bytes (decoded from text or base64), header maps name →
tuple of values. ``url_group`` is the wire's ``topicName`` and ``queue`` its ``queueName``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from . import fields as f
from .fields import FromJson, wire

# ruff: noqa: RUF009 - wire() returns dataclasses.field(...), as config.py's _setting does


@dataclass(frozen=True)
class PublishedMessage(FromJson):
    """One stored message: its id, the URL it goes to and whether it was a duplicate (the id is
    then the earlier message's)."""

    message_id: str = wire("messageId")
    url: str | None = wire("url", f.opt_text)
    deduplicated: bool = wire("deduplicated", f.flag)


@dataclass(frozen=True)
class Published:
    """The answer to a publish: one message for a URL, one per endpoint for a URL group."""

    messages: tuple[PublishedMessage, ...]
    url_group: bool

    @property
    def message_id(self) -> str:
        """The id of the one message a URL publish makes."""
        if len(self.messages) != 1:
            raise ValueError(
                f"this publish made {len(self.messages)} messages (a URL group): read .messages"
            )
        return self.messages[0].message_id

    @property
    def deduplicated(self) -> bool:
        """True when every message was a duplicate, so nothing new was stored."""
        return bool(self.messages) and all(m.deduplicated for m in self.messages)

    @classmethod
    def from_json(cls, data: Any) -> Published:
        if isinstance(data, list):
            return cls(tuple(PublishedMessage.from_json(item) for item in data), url_group=True)
        return cls((PublishedMessage.from_json(data),), url_group=False)


@dataclass(frozen=True, kw_only=True)
class DeliverySettings(FromJson):
    """How a message is delivered; shared by messages, log entries and schedules."""

    method: str = wire("method", f.method)
    headers: f.HeaderMap = wire("header", f.headers)
    body: bytes = wire("body", f.body)
    callback: str | None = wire("callback", f.opt_text)
    failure_callback: str | None = wire("failureCallback", f.opt_text)
    queue: str | None = wire("queueName", f.opt_text)
    flow_control_key: str | None = wire("flowControlKey", f.opt_text)
    parallelism: int | None = wire("parallelism", f.opt_number)
    rate: int | None = wire("rate", f.opt_number)
    period: int | None = wire("period", f.opt_number)
    retry_delay: str | None = wire("retryDelayExpression", f.opt_text)
    labels: tuple[str, ...] = wire("labels", f.labels)
    caller_ip: str | None = wire("callerIP", f.opt_text)


@dataclass(frozen=True, kw_only=True)
class Message(DeliverySettings):
    """A message as ``GET /v2/messages/{id}`` shows it (§12.1); ``timeout_ms`` is the
    per-attempt timeout it was given."""

    message_id: str = wire("messageId")
    url: str = wire("url")
    max_retries: int = wire("maxRetries", f.number)
    not_before: datetime = wire("notBefore", f.millis)
    created_at: datetime = wire("createdAt", f.millis)
    timeout_ms: int | None = wire("timeout", f.opt_number)
    url_group: str | None = wire("topicName", f.opt_text)
    endpoint_name: str | None = wire("endpointName", f.opt_text)
    schedule_id: str | None = wire("scheduleId", f.opt_text)


@dataclass(frozen=True, kw_only=True)
class DlqMessage(FromJson):
    """A dead-letter entry (§12.2): the message and the last answer its destination gave
    (``response_status`` 0 when there was none: timeout, refused, DNS)."""

    dlq_id: str = wire("dlqId")
    message: Message = wire("", f.whole(Message))
    response_status: int = wire("responseStatus", f.number)
    response_headers: f.HeaderMap = wire("responseHeader", f.headers)
    response_body: bytes = wire("responseBody", f.body)
    error: str | None = wire("error", f.opt_text)


@dataclass(frozen=True, kw_only=True)
class Event(DeliverySettings):
    """One log entry (§12.3): a message's state at ``time``. States: CREATED, ACTIVE,
    DELIVERED, ERROR, RETRY, FAILED, CANCEL_REQUESTED, CANCELED."""

    time: datetime = wire("time", f.millis)
    message_id: str = wire("messageId")
    state: str = wire("state")
    url: str = wire("url")
    error: str | None = wire("error", f.opt_text)
    next_delivery_time: datetime | None = wire("nextDeliveryTime", f.opt_millis)
    body: bytes = wire("body", f.base64_body)  # base64 in log entries
    url_group: str | None = wire("topicName", f.opt_text)
    endpoint_name: str | None = wire("endpointName", f.opt_text)
    schedule_id: str | None = wire("scheduleId", f.opt_text)
    response_status: int | None = wire("responseStatus", f.opt_number)
    response_headers: f.HeaderMap = wire("responseHeader", f.headers)
    response_body: bytes = wire("responseBody", f.base64_body)
