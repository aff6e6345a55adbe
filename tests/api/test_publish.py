"""POST /v2/publish/{destination}: the answer, the stored message, every publish header."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict

from tests.api.conftest import AUTH, count_rows, publish, raw_request
from tests.conftest import TEST_TOKEN
from wirepost.clock import to_millis
from wirepost.store import messages

DEST = "http://127.0.0.1:9/hook"


async def test_publish_answers_201_with_message_id_and_url(api, pool):
    response = await raw_request(api, "POST", "/v2/publish/" + DEST, headers=AUTH, data=b"hi")
    assert response.status == 201
    assert response.content_type == "application/json"
    payload = await response.json()
    assert set(payload) == {"messageId", "url"}
    assert payload["url"] == DEST
    assert payload["messageId"].startswith("msg_")


async def test_publish_commits_message_delivery_and_created_event_before_answering(
    api, pool, clock
):
    payload = await publish(api, DEST, body=b'{"a":1}')
    # The pool is a separate connection: it sees only committed rows.
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.url == DEST
    assert stored.body == b'{"a":1}'
    assert stored.method == "POST"
    assert stored.not_before == clock.now()
    delivery = await pool.fetchrow(
        "SELECT available_at FROM deliveries WHERE message_id = $1", payload["messageId"]
    )
    assert delivery is not None
    assert delivery["available_at"] == clock.now()
    states = await pool.fetch("SELECT state FROM events WHERE message_id = $1", stored.id)
    assert [r["state"] for r in states] == ["CREATED"]


async def test_publish_gives_each_message_a_new_id(api, pool):
    first = await publish(api, DEST)
    second = await publish(api, DEST)
    assert first["messageId"] != second["messageId"]
    assert await count_rows(pool, "messages") == 2


async def test_publish_accepts_an_empty_body(api, pool):
    payload = await publish(api, DEST, body=b"")
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.body == b""


async def test_publish_keeps_binary_body_bytes_exactly(api, pool):
    body = bytes(range(256))
    payload = await publish(api, DEST, body=body)
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.body == body


# --- destination parsing from the raw request target -------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("http://127.0.0.1:9/hook?x=1&y=two", "http://127.0.0.1:9/hook?x=1&y=two"),
        ("http://127.0.0.1:9/hook?x=1&qstash_token=" + TEST_TOKEN, "http://127.0.0.1:9/hook?x=1"),
        (
            "http://127.0.0.1:9/hook?upstash-retries=2&keep=yes&Upstash-Delay=5s",
            "http://127.0.0.1:9/hook?keep=yes",
        ),
        ("http://127.0.0.1:9/a%2Fb/c%20d?q=%2F", "http://127.0.0.1:9/a%2Fb/c%20d?q=%2F"),
        ("https:/example.com/hook", "https://example.com/hook"),
        ("http:/127.0.0.1:9/hook", "http://127.0.0.1:9/hook"),
        ("https%3A%2F%2Fexample.com%2Fhook", "https://example.com/hook"),
        ("HTTPS://example.com/Path", "HTTPS://example.com/Path"),
        ("http://127.0.0.1:9/hook?", "http://127.0.0.1:9/hook"),
    ],
)
async def test_publish_takes_destination_from_the_raw_target(api, pool, target, expected):
    payload = await publish(api, target)
    assert payload["url"] == expected
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.url == expected


async def test_publish_query_config_acts_as_headers(api, pool, clock):
    target = DEST + "?upstash-retries=1&upstash-delay=30s&upstash-method=PUT&n=1"
    payload = await publish(api, target)
    assert payload["url"] == DEST + "?n=1"
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.max_retries == 1
    assert stored.method == "PUT"
    assert stored.not_before == clock.now() + timedelta(seconds=30)


async def test_publish_header_wins_over_query_config(api, pool):
    payload = await publish(api, DEST + "?upstash-retries=1", headers={"Upstash-Retries": "4"})
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.max_retries == 4


async def test_publish_accepts_the_token_as_query_parameter_and_strips_it(api, pool):
    response = await raw_request(
        api, "POST", f"/v2/publish/{DEST}?a=1&qstash_token={TEST_TOKEN}", data=b"x"
    )
    assert response.status == 201
    payload = await response.json()
    assert payload["url"] == DEST + "?a=1"
    assert TEST_TOKEN not in str(await pool.fetch("SELECT url, headers FROM messages"))


# --- publish headers ----------------------------------------------------------------------


async def test_publish_forwards_content_type(api, pool):
    payload = await publish(api, DEST, headers={"Content-Type": "application/json"})
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.headers == {"Content-Type": ["application/json"]}


@pytest.mark.parametrize(("given", "stored_method"), [("PUT", "PUT"), ("patch", "PATCH")])
async def test_publish_upstash_method_sets_the_delivery_method(api, pool, given, stored_method):
    payload = await publish(api, DEST, headers={"Upstash-Method": given})
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.method == stored_method


async def test_publish_upstash_forward_headers_lose_their_prefix(api, pool):
    payload = await publish(
        api,
        DEST,
        headers={
            "Content-Type": "text/plain",
            "Upstash-Forward-test-header": "one",
            "upstash-forward-X-API-Key": "k",
            "X-Not-Forwarded": "nope",
            "Upstash-Telemetry-Sdk": "upstash-qstash-js@2",
        },
    )
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.headers == {
        "Content-Type": ["text/plain"],
        "Test-Header": ["one"],
        "X-Api-Key": ["k"],
    }


async def test_publish_upstash_forward_header_keeps_repeated_values(api, pool):
    headers = CIMultiDict(AUTH)
    headers.add("Upstash-Forward-Tag", "a")
    headers.add("Upstash-Forward-Tag", "b")
    response = await raw_request(api, "POST", "/v2/publish/" + DEST, headers=headers, data=b"x")
    assert response.status == 201
    stored = await messages.find(pool, (await response.json())["messageId"])
    assert stored is not None
    assert stored.headers["Tag"] == ["a", "b"]


async def test_publish_header_forward_true_forwards_incoming_headers(api, pool):
    payload = await publish(
        api,
        DEST,
        headers={
            "Upstash-Header-Forward": "true",
            "X-Webhook-Signature": "sig",
            "Content-Type": "application/json",
        },
    )
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.headers["X-Webhook-Signature"] == ["sig"]
    assert stored.headers["Content-Type"] == ["application/json"]
    # Never our own auth, config or transport headers.
    lowered = {name.lower() for name in stored.headers}
    assert "authorization" not in lowered
    assert "host" not in lowered
    assert "content-length" not in lowered
    assert not any(name.startswith("upstash-") for name in lowered)


async def test_publish_without_header_forward_drops_plain_headers(api, pool):
    payload = await publish(api, DEST, headers={"X-Webhook-Signature": "sig"})
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert "X-Webhook-Signature" not in stored.headers


async def test_publish_upstash_delay_postpones_the_first_attempt(api, pool, clock):
    payload = await publish(api, DEST, headers={"Upstash-Delay": "1h30m"})
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.not_before == clock.now() + timedelta(hours=1, minutes=30)
    due = await pool.fetchval(
        "SELECT available_at FROM deliveries WHERE message_id = $1", stored.id
    )
    assert due == stored.not_before


async def test_publish_upstash_not_before_wins_over_delay(api, pool, clock):
    when = int(clock.now().timestamp()) + 3600
    payload = await publish(
        api, DEST, headers={"Upstash-Not-Before": str(when), "Upstash-Delay": "10s"}
    )
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.not_before == datetime.fromtimestamp(when, UTC)


async def test_publish_upstash_not_before_in_the_past_means_now(api, pool, clock):
    payload = await publish(api, DEST, headers={"Upstash-Not-Before": "1000"})
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.not_before == clock.now()


async def test_publish_upstash_retries_and_default(api, pool, settings):
    explicit = await publish(api, DEST, headers={"Upstash-Retries": "0"})
    default = await publish(api, DEST)
    stored_explicit = await messages.find(pool, explicit["messageId"])
    stored_default = await messages.find(pool, default["messageId"])
    assert stored_explicit is not None
    assert stored_default is not None
    assert stored_explicit.max_retries == 0
    assert stored_default.max_retries == settings.default_retries


async def test_publish_upstash_retry_delay_is_stored_as_written(api, pool):
    expression = "pow(2, retried) * 1000"
    payload = await publish(api, DEST, headers={"Upstash-Retry-Delay": expression})
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.retry_delay == expression


@pytest.mark.parametrize(("given", "millis"), [("5s", 5000), ("1.5s", 1500), ("2m", 120000)])
async def test_publish_upstash_timeout_in_milliseconds(api, pool, given, millis):
    payload = await publish(api, DEST, headers={"Upstash-Timeout": given})
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.timeout_ms == millis


async def test_publish_upstash_label_stores_every_label(api, pool):
    payload = await publish(api, DEST, headers={"Upstash-Label": "billing, eu"})
    stored = await messages.find(pool, payload["messageId"])
    assert stored is not None
    assert stored.labels == ("billing", "eu")


# --- deduplication --------------------------------------------------------------------------


async def test_publish_deduplication_id_answers_202_with_the_first_id(api, pool):
    headers = {"Upstash-Deduplication-Id": "order-42"}
    first = await publish(api, DEST, headers=headers)
    response = await raw_request(
        api, "POST", "/v2/publish/" + DEST, headers={**AUTH, **headers}, data=b"other"
    )
    assert response.status == 202
    assert await response.json() == {
        "messageId": first["messageId"],
        "url": DEST,
        "deduplicated": True,
    }
    assert await count_rows(pool, "messages") == 1
    assert await count_rows(pool, "deliveries") == 1


async def test_publish_deduplication_id_is_forgotten_after_the_window(api, pool, clock, settings):
    headers = {"Upstash-Deduplication-Id": "order-43"}
    first = await publish(api, DEST, headers=headers)
    clock.advance(settings.dedup_window + timedelta(seconds=1))
    second = await publish(api, DEST, headers=headers)
    assert second["messageId"] != first["messageId"]
    assert "deduplicated" not in second


async def test_publish_different_deduplication_ids_are_not_duplicates(api, pool):
    first = await publish(api, DEST, headers={"Upstash-Deduplication-Id": "a"})
    second = await publish(api, DEST, headers={"Upstash-Deduplication-Id": "b"})
    assert first["messageId"] != second["messageId"]


@pytest.mark.parametrize("spelling", ["True", "true", "1"])
async def test_publish_content_based_deduplication(api, pool, spelling):
    headers = {"Upstash-Content-Based-Deduplication": spelling, "Content-Type": "text/plain"}
    first = await publish(api, DEST, body=b"same", headers=headers)
    response = await raw_request(
        api, "POST", "/v2/publish/" + DEST, headers={**AUTH, **headers}, data=b"same"
    )
    assert response.status == 202
    duplicate = await response.json()
    assert duplicate["messageId"] == first["messageId"]
    assert duplicate["deduplicated"] is True
    other_body = await publish(api, DEST, body=b"different", headers=headers)
    other_url = await publish(api, DEST + "?v=2", body=b"same", headers=headers)
    assert len({first["messageId"], other_body["messageId"], other_url["messageId"]}) == 3
    assert await count_rows(pool, "messages") == 3


async def test_publish_content_based_deduplication_false_never_deduplicates(api, pool):
    headers = {"Upstash-Content-Based-Deduplication": "False"}
    first = await publish(api, DEST, body=b"same", headers=headers)
    second = await publish(api, DEST, body=b"same", headers=headers)
    assert first["messageId"] != second["messageId"]


async def test_publish_stored_message_reads_back_through_get(api, pool, clock):
    payload = await publish(
        api,
        DEST,
        body=b"\xff\x00",
        headers={"Upstash-Label": "x", "Upstash-Delay": "10s", "Upstash-Retries": "2"},
    )
    response = await api.get(f"/v2/messages/{payload['messageId']}", headers=AUTH)
    assert response.status == 200
    shown = await response.json()
    assert shown["bodyBase64"] == base64.b64encode(b"\xff\x00").decode()
    assert shown["notBefore"] == to_millis(clock.now() + timedelta(seconds=10))
    assert shown["maxRetries"] == 2
    assert shown["labels"] == ["x"]
