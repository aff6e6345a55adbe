"""The JSON shapes of QSTASH_API.md §12, built from domain values, and the JSON response helper.

Timestamps are Unix milliseconds; bodies are UTF-8 text (``body``) or base64 (``bodyBase64``);
log entries carry base64 bodies. Where SDKs and docs disagree on a name, both are emitted
(DESIGN decision 3).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson
from aiohttp import web

from wirepost.clock import to_millis
from wirepost.domain import DeadLetter, Event, Headers, Message, Response, State


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _body_fields(
    body: bytes, text_key: str = "body", b64_key: str = "bodyBase64"
) -> dict[str, str]:
    try:
        return {text_key: body.decode("utf-8")}
    except UnicodeDecodeError:
        return {b64_key: _b64(body)}


def _drop_none(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if v is not None}


def _redacted(data: bytes) -> str:
    return "REDACTED:" + hashlib.sha256(data).hexdigest()


def visible_headers(m: Message) -> Headers:
    """The message's headers as the API shows them: ``Upstash-Redact-Fields`` replaces values
    with ``REDACTED:<sha256 hex>`` (deliveries still carry the originals)."""
    redact = m.redact or ()
    if not redact:
        return m.headers
    every = "header" in redact
    return {
        name: (
            [_redacted(v.encode()) for v in values]
            if every or f"header[{name}]" in redact
            else values
        )
        for name, values in m.headers.items()
    }


def visible_body(m: Message) -> bytes:
    return _redacted(m.body).encode() if m.redact and "body" in m.redact else m.body


def _message_common(m: Message) -> dict[str, Any]:
    flow = m.flow_control or {}
    return {
        "messageId": m.id,
        "url": m.url,
        "topicName": m.topic_name,
        "endpointName": m.endpoint_name,
        "queueName": m.queue_name,
        "method": m.method,
        "header": visible_headers(m),
        "maxRetries": m.max_retries,
        "notBefore": to_millis(m.not_before),
        "createdAt": to_millis(m.created_at),
        "callback": m.callback,
        "failureCallback": m.failure_callback,
        "callbackHeader": m.callback_headers,
        "failureCallbackHeader": m.failure_callback_headers,
        "scheduleId": m.schedule_id,
        "callerIP": m.caller_ip,
        "flowControlKey": m.flow_control_key,
        "parallelism": flow.get("parallelism"),
        "rate": flow.get("rate"),
        "period": flow.get("period") if m.flow_control_key else None,
        "retryDelayExpression": m.retry_delay,
        "timeout": m.timeout_ms,
        "label": m.labels[0] if m.labels else None,
        "labels": list(m.labels) if m.labels else None,
    }


def message_json(m: Message) -> dict[str, Any]:
    return _drop_none({**_message_common(m), **_body_fields(visible_body(m))})


def _response_fields(r: Response) -> dict[str, Any]:
    fields: dict[str, Any] = {"responseStatus": r.status, "responseHeader": r.headers}
    fields.update(_body_fields(r.body, "responseBody", "responseBodyBase64"))
    return fields


def dead_letter_json(d: DeadLetter) -> dict[str, Any]:
    return _drop_none(
        {
            **message_json(d.message),
            "dlqId": str(d.id),
            **_response_fields(d.response),
            "error": d.error,
        }
    )


def event_json(e: Event, *, cancelled_spelling: str = "CANCELED") -> dict[str, Any]:
    m = e.message
    state = cancelled_spelling if e.state is State.CANCELED else e.state.value
    fields = {
        **_message_common(m),
        "time": to_millis(e.at),
        "state": state,
        "error": e.error,
        "nextDeliveryTime": to_millis(e.next_delivery_at) if e.next_delivery_at else None,
        "body": _b64(visible_body(m)),
        "retryDelayExpr": m.retry_delay,
        "callbackHeaders": m.callback_headers,
        "failureCallbackHeaders": m.failure_callback_headers,
    }
    for stale in ("callbackHeader", "failureCallbackHeader", "notBefore", "createdAt"):
        fields.pop(stale, None)
    if e.response is not None:
        fields.update(
            {
                "responseStatus": e.response.status,
                "responseHeader": e.response.headers,
                "responseHeaders": e.response.headers,
                "responseBody": _b64(e.response.body),
            }
        )
    return _drop_none(fields)
