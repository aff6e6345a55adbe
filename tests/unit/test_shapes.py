"""Unit tests for wirepost.api.shapes: the JSON the SDKs parse (QSTASH_API.md §12)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.factories import make_message
from wirepost.api.shapes import dead_letter_json, event_json, json_response, message_json
from wirepost.clock import to_millis
from wirepost.domain import DeadLetter, Event, Response, State

NOW = datetime(2026, 11, 28, 12, 0, 0, 123_456, tzinfo=UTC)
LATER = NOW + timedelta(seconds=30)
PY_MESSAGE_KEYS = {"messageId", "url", "method", "maxRetries", "notBefore", "createdAt"}
PY_EVENT_KEYS = {"time", "messageId", "state", "url"}


def test_message_json_utf8_body_is_text():
    shown = message_json(make_message(NOW, body='{"é":1}'.encode()))
    assert shown["body"] == '{"é":1}'
    assert "bodyBase64" not in shown


@pytest.mark.parametrize("body", [b"\xff\xfe\x00", b"\xc3", bytes(range(256))])
def test_message_json_binary_body_is_standard_base64(body):
    shown = message_json(make_message(NOW, body=body))
    assert "body" not in shown
    assert base64.b64decode(shown["bodyBase64"], validate=True) == body


def test_message_json_empty_body_is_empty_text():
    assert message_json(make_message(NOW, body=b""))["body"] == ""


def test_message_json_required_keys_and_millisecond_times():
    message = make_message(NOW, not_before=LATER, max_retries=5, method="PUT")
    shown = message_json(message)
    assert set(shown) >= PY_MESSAGE_KEYS
    assert shown["messageId"] == message.id
    assert shown["maxRetries"] == 5
    assert shown["method"] == "PUT"
    assert shown["createdAt"] == to_millis(NOW) == 1_795_867_200_123
    assert shown["notBefore"] == to_millis(LATER)
    assert shown["header"] == {"Content-Type": ["application/json"]}


def test_message_json_drops_unset_fields():
    shown = message_json(make_message(NOW))
    for absent in (
        "topicName",
        "endpointName",
        "queueName",
        "callback",
        "failureCallback",
        "callbackHeader",
        "scheduleId",
        "callerIP",
        "flowControlKey",
        "parallelism",
        "rate",
        "period",
        "retryDelayExpression",
        "timeout",
        "label",
        "labels",
    ):
        assert absent not in shown
    assert None not in shown.values()


def test_message_json_optional_fields_when_set():
    message = make_message(
        NOW,
        labels=("first", "second"),
        retry_delay="1000 * retried",
        timeout_ms=5000,
        caller_ip="10.0.0.1",
        topic_name="orders",
        endpoint_name="primary",
        callback="https://example.com/cb",
        callback_headers={"X-A": ["1"]},
        flow_control_key="k",
        flow_control={"parallelism": 2, "rate": 10, "period": 60},
    )
    shown = message_json(message)
    assert shown["label"] == "first"
    assert shown["labels"] == ["first", "second"]
    assert shown["retryDelayExpression"] == "1000 * retried"
    assert shown["callerIP"] == "10.0.0.1"
    assert shown["topicName"] == "orders"
    assert shown["endpointName"] == "primary"
    assert shown["callback"] == "https://example.com/cb"
    assert shown["callbackHeader"] == {"X-A": ["1"]}
    assert (shown["flowControlKey"], shown["parallelism"], shown["rate"], shown["period"]) == (
        "k",
        2,
        10,
        60,
    )


def test_message_json_serialises():
    payload = orjson.loads(json_response(message_json(make_message(NOW, body=b"\xff"))).body)
    assert payload["bodyBase64"] == "/w=="


def event(state: State, **fields) -> Event:
    values = {"id": 7, "at": LATER, "state": state, "message": make_message(NOW, body=b"hi")}
    values.update(fields)
    return Event(**values)


def test_event_json_cancelled_spelling_follows_the_path():
    cancelled = event(State.CANCELED)
    assert event_json(cancelled)["state"] == "CANCELED"
    assert event_json(cancelled, cancelled_spelling="CANCELED")["state"] == "CANCELED"
    assert event_json(cancelled, cancelled_spelling="CANCELLED")["state"] == "CANCELLED"


@pytest.mark.parametrize("state", [s for s in State if s is not State.CANCELED])
def test_event_json_other_states_are_unchanged_by_the_spelling(state):
    assert event_json(event(state), cancelled_spelling="CANCELLED")["state"] == state.value
    assert event_json(event(state), cancelled_spelling="CANCELED")["state"] == state.value


def test_event_json_required_keys_time_and_base64_body():
    shown = event_json(event(State.CREATED))
    assert set(shown) >= PY_EVENT_KEYS
    assert shown["time"] == to_millis(LATER)
    # Log bodies are always base64, even when they are text.
    assert shown["body"] == base64.b64encode(b"hi").decode()
    for stale in ("notBefore", "createdAt", "callbackHeader", "failureCallbackHeader"):
        assert stale not in shown
    assert None not in shown.values()
    for absent in ("responseStatus", "nextDeliveryTime", "error"):
        assert absent not in shown


def test_event_json_response_fields_in_both_spellings():
    response = Response(503, {"Retry-After": ["30"]}, b"\x00busy")
    shown = event_json(
        event(State.ERROR, error="HTTP 503", response=response, next_delivery_at=LATER)
    )
    assert shown["error"] == "HTTP 503"
    assert shown["responseStatus"] == 503
    assert shown["responseHeader"] == shown["responseHeaders"] == {"Retry-After": ["30"]}
    assert base64.b64decode(shown["responseBody"]) == b"\x00busy"
    assert shown["nextDeliveryTime"] == to_millis(LATER)


def test_event_json_retry_delay_in_both_spellings():
    message = make_message(NOW, retry_delay="pow(2, retried) * 1000")
    shown = event_json(event(State.RETRY, message=message))
    assert shown["retryDelayExpr"] == shown["retryDelayExpression"] == "pow(2, retried) * 1000"


def test_event_json_callback_headers_use_the_log_names():
    message = make_message(
        NOW, callback_headers={"X": ["1"]}, failure_callback_headers={"Y": ["2"]}
    )
    shown = event_json(event(State.CREATED, message=message))
    assert shown["callbackHeaders"] == {"X": ["1"]}
    assert shown["failureCallbackHeaders"] == {"Y": ["2"]}


def dead_letter(body: bytes) -> DeadLetter:
    return DeadLetter(
        id=1725323658779,
        created_at=LATER,
        message=make_message(NOW),
        response=Response(404, {"Content-Type": ["text/plain"]}, body),
        error="HTTP 404",
    )


def test_dead_letter_json_text_response():
    shown = dead_letter_json(dead_letter(b"404 Not Found"))
    assert shown["dlqId"] == "1725323658779"
    assert shown["responseStatus"] == 404
    assert shown["responseBody"] == "404 Not Found"
    assert "responseBodyBase64" not in shown
    assert shown["responseHeader"] == {"Content-Type": ["text/plain"]}
    assert set(shown) >= PY_MESSAGE_KEYS


def test_dead_letter_json_binary_response_is_base64():
    shown = dead_letter_json(dead_letter(b"\xff"))
    assert shown["responseBodyBase64"] == "/w=="
    assert "responseBody" not in shown


def test_dead_letter_json_keeps_response_status_zero():
    letter = dead_letter(b"")
    shown = dead_letter_json(
        DeadLetter(letter.id, letter.created_at, letter.message, Response(), "timed out")
    )
    assert shown["responseStatus"] == 0  # the Python SDK requires the key
    assert shown["error"] == "timed out"


def test_json_response_is_json_with_status():
    response = json_response({"a": [1]}, status=202)
    assert response.status == 202
    assert response.content_type == "application/json"
    assert orjson.loads(response.body) == {"a": [1]}
