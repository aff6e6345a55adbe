"""GET /v2/messages/{id} (shape of QSTASH_API.md §12.1) and DELETE /v2/messages/{id} (cancel)."""

from __future__ import annotations

from datetime import timedelta

from tests.api.conftest import AUTH, LEASE, publish
from wirepost.clock import to_millis
from wirepost.domain import Delivered, Response, RetryLater
from wirepost.store import deliveries

DEST = "http://127.0.0.1:9/hook"
# Keys the Python SDK reads with message["..."] (KeyError when missing).
PY_REQUIRED = {"messageId", "url", "method", "maxRetries", "notBefore", "createdAt"}


async def test_get_message_has_every_key_the_python_sdk_requires(api, clock):
    published = await publish(
        api,
        DEST + "?x=1",
        body=b'{"hello":"world"}',
        headers={
            "Content-Type": "application/json",
            "Upstash-Method": "PUT",
            "Upstash-Retries": "5",
            "Upstash-Delay": "90s",
            "Upstash-Retry-Delay": "1000 * (1 + retried)",
            "Upstash-Timeout": "7s",
            "Upstash-Label": "billing,eu",
            "Upstash-Forward-X-Tenant": "acme",
        },
    )
    response = await api.get(f"/v2/messages/{published['messageId']}", headers=AUTH)
    assert response.status == 200
    assert response.content_type == "application/json"
    shown = await response.json()
    assert set(shown) >= PY_REQUIRED
    assert shown["messageId"] == published["messageId"]
    assert shown["url"] == DEST + "?x=1"
    assert shown["method"] == "PUT"
    assert shown["maxRetries"] == 5
    assert shown["createdAt"] == to_millis(clock.now())
    assert shown["notBefore"] == to_millis(clock.now() + timedelta(seconds=90))
    assert shown["header"] == {"Content-Type": ["application/json"], "X-Tenant": ["acme"]}
    assert shown["body"] == '{"hello":"world"}'
    assert "bodyBase64" not in shown
    assert shown["retryDelayExpression"] == "1000 * (1 + retried)"
    assert shown["label"] == "billing"
    assert shown["labels"] == ["billing", "eu"]
    assert shown["callerIP"] == "127.0.0.1"
    assert all(value is not None for value in shown.values())


async def test_get_message_of_a_plain_publish_omits_unset_fields(api):
    published = await publish(api, DEST, body=b"x")
    shown = await (await api.get(f"/v2/messages/{published['messageId']}", headers=AUTH)).json()
    assert set(shown) >= PY_REQUIRED
    for absent in ("label", "labels", "retryDelayExpression", "callback", "topicName"):
        assert absent not in shown


async def test_get_message_is_kept_after_delivery(api, pool, clock):
    published = await publish(api, DEST)
    [claimed] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=clock.now())
    await deliveries.complete_many(pool, [(claimed, Delivered(Response(200)))], now=clock.now())
    response = await api.get(f"/v2/messages/{published['messageId']}", headers=AUTH)
    assert response.status == 200
    assert (await response.json())["messageId"] == published["messageId"]


async def test_get_unknown_message_is_404_json(api):
    response = await api.get("/v2/messages/msg_doesnotexist", headers=AUTH)
    assert response.status == 404
    payload = await response.json()
    assert set(payload) == {"error"}
    assert "msg_doesnotexist" in payload["error"]


async def test_cancel_message_answers_cancelled_1_then_404(api, pool):
    published = await publish(api, DEST, headers={"Upstash-Delay": "1h"})
    message_id = published["messageId"]
    response = await api.delete(f"/v2/messages/{message_id}", headers=AUTH)
    assert response.status == 200
    assert await response.json() == {"cancelled": 1}
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 0
    states = await pool.fetch(
        "SELECT state FROM events WHERE message_id = $1 ORDER BY id", message_id
    )
    assert [r["state"] for r in states] == ["CREATED", "CANCEL_REQUESTED", "CANCELED"]
    again = await api.delete(f"/v2/messages/{message_id}", headers=AUTH)
    assert again.status == 404
    assert "error" in await again.json()


async def test_cancel_leaves_other_messages_alone(api, pool):
    keep = await publish(api, DEST)
    drop = await publish(api, DEST)
    response = await api.delete(f"/v2/messages/{drop['messageId']}", headers=AUTH)
    assert response.status == 200
    remaining = await pool.fetch("SELECT message_id FROM deliveries")
    assert [r["message_id"] for r in remaining] == [keep["messageId"]]


async def test_cancel_a_message_waiting_for_retry(api, pool, clock):
    published = await publish(api, DEST)
    [claimed] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=clock.now())
    retry = RetryLater(clock.now() + timedelta(minutes=5), "HTTP 503", Response(503))
    await deliveries.complete_many(pool, [(claimed, retry)], now=clock.now())
    response = await api.delete(f"/v2/messages/{published['messageId']}", headers=AUTH)
    assert await response.json() == {"cancelled": 1}


async def test_cancel_a_delivered_message_is_404(api, pool, clock):
    published = await publish(api, DEST)
    [claimed] = await deliveries.claim_due(pool, limit=10, lease=LEASE, now=clock.now())
    await deliveries.complete_many(pool, [(claimed, Delivered(Response(200)))], now=clock.now())
    response = await api.delete(f"/v2/messages/{published['messageId']}", headers=AUTH)
    assert response.status == 404


async def test_cancel_unknown_message_is_404(api):
    response = await api.delete("/v2/messages/msg_nope", headers=AUTH)
    assert response.status == 404
    assert "error" in await response.json()
