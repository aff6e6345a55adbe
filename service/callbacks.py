"""Builds callback and failure-callback messages from attempt outcomes (pure, no I/O).

After every applied attempt of a message with ``Upstash-Callback``, a new message carrying the
attempt's result goes to the callback URL; when a message fails for good, one goes to its
``Upstash-Failure-Callback`` with the DLQ id. They are ordinary messages (signed, retried, own
id) stored in the same transaction as the outcome, so none is lost or doubled by a crash. A
callback of a queued message holds the queue's slot until it is delivered (FIFO waits for it).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Any

import orjson

from wirepost.clock import to_millis
from wirepost.domain import Claimed, GiveUp, Headers, Message, Outcome, new_id


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def callback_body(claimed: Claimed, outcome: Outcome, dlq_id: int | None) -> bytes:
    m = claimed.message
    body: dict[str, Any] = {
        "status": outcome.response.status,
        "header": outcome.response.headers,
        "body": _b64(outcome.response.body),
        "retried": claimed.retried,
        "maxRetries": m.max_retries,
        "sourceMessageId": m.id,
        "url": m.url,
        "method": m.method,
        "sourceHeader": m.headers,
        "sourceBody": _b64(m.body),
        "notBefore": to_millis(m.not_before),
        "createdAt": to_millis(m.created_at),
    }
    optional = {
        "topicName": m.topic_name,
        "endpointName": m.endpoint_name,
        "scheduleId": m.schedule_id,
        "callerIP": m.caller_ip,
    }
    body.update({k: v for k, v in optional.items() if v is not None})
    if isinstance(outcome, GiveUp) and outcome.error and outcome.response.status == 0:
        body["error"] = outcome.error
    if dlq_id is not None:
        body["dlqId"] = str(dlq_id)
    return orjson.dumps(body)


def _callback_message(
    source: Message,
    url: str,
    headers: Headers | None,
    options: dict[str, Any],
    body: bytes,
    now: datetime,
) -> Message:
    sent: Headers = {"Content-Type": ["application/json"], **(headers or {})}
    delay = timedelta(milliseconds=int(options.get("delay_ms", 0)))
    return Message(
        id=new_id("msg_"),
        url=url,
        method=str(options.get("method", "POST")),
        headers=sent,
        body=body,
        max_retries=int(options.get("retries", source.max_retries)),
        not_before=now + delay,
        created_at=now,
        retry_delay=options.get("retry_delay"),
        timeout_ms=options.get("timeout_ms"),
        caller_ip=source.caller_ip,
        queue_name=source.queue_name,
        source_message_id=source.id,
    )


def follow_ups(
    results: list[tuple[Claimed, Outcome]], applied: dict[str, int | None], now: datetime
) -> list[Message]:
    """The callback messages the applied outcomes call for."""
    out: list[Message] = []
    for claimed, outcome in results:
        m = claimed.message
        if m.id not in applied:
            continue  # the lease was lost: another worker owns this message now
        options = m.callback_options or {}
        dlq_id = applied[m.id]
        if m.callback:
            out.append(
                _callback_message(
                    m,
                    m.callback,
                    m.callback_headers,
                    options.get("callback", {}),
                    callback_body(claimed, outcome, None),
                    now,
                )
            )
        if m.failure_callback and isinstance(outcome, GiveUp):
            out.append(
                _callback_message(
                    m,
                    m.failure_callback,
                    m.failure_callback_headers,
                    options.get("failure", {}),
                    callback_body(claimed, outcome, dlq_id),
                    now,
                )
            )
    return out
