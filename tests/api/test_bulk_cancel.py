"""DELETE /v2/messages (bulk cancel): JSON ids (Python/Go), no body = everything (cancel_all),
query ids or filters with count (JS); {"cancelled": n}; only pending messages are touched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from tests.api.conftest import AUTH, LEASE, count_rows, publish
from tests.factories import make_message
from wirepost.api import messages as messages_api
from wirepost.clock import to_millis
from wirepost.domain import Delivered, Response
from wirepost.store import deliveries, messages

A = "http://127.0.0.1:9/a"
OTHER = "http://127.0.0.1:9/other"


async def cancel(api, query: str = "", body: Any = None, status: int = 200) -> Any:
    data = orjson.dumps(body) if body is not None else b""
    response = await api.delete(
        "/v2/messages" + (f"?{query}" if query else ""), headers=AUTH, data=data
    )
    payload = await response.json()
    assert response.status == status, payload
    return payload


async def pending_ids(pool) -> set[str]:
    return {r["message_id"] for r in await pool.fetch("SELECT message_id FROM deliveries")}


async def deliver_everything_due(pool, now) -> None:
    claimed = await deliveries.claim_due(pool, limit=100, lease=LEASE, now=now)
    await deliveries.complete_many(pool, [(c, Delivered(Response(200))) for c in claimed], now=now)


async def publish_many(api, n: int, **kwargs: Any) -> list[str]:
    return [(await publish(api, A, **kwargs))["messageId"] for _ in range(n)]


async def test_json_message_ids_cancel_only_pending_messages(api, pool, clock):
    [done] = await publish_many(api, 1)
    await deliver_everything_due(pool, clock.now())
    a, b = await publish_many(api, 2)
    payload = await cancel(api, body={"messageIds": [a, done, "msg_unknown"]})
    assert payload == {"cancelled": 1}
    assert await pending_ids(pool) == {b}
    states = await pool.fetch("SELECT state FROM events WHERE message_id = $1 ORDER BY id", a)
    assert [r["state"] for r in states] == ["CREATED", "CANCEL_REQUESTED", "CANCELED"]


async def test_json_empty_message_ids_cancel_nothing(api, pool):
    await publish_many(api, 2)
    assert await cancel(api, body={"messageIds": []}) == {"cancelled": 0}
    assert len(await pending_ids(pool)) == 2


@pytest.mark.parametrize("path", ["/v2/messages", "/v2/messages/"])
async def test_no_body_and_no_query_cancels_every_pending_message(api, pool, clock, path):
    await publish_many(api, 1)
    await deliver_everything_due(pool, clock.now())
    await publish_many(api, 3)
    response = await api.delete(path, headers=AUTH)
    assert response.status == 200
    assert await response.json() == {"cancelled": 3}
    assert await pending_ids(pool) == set()
    assert await count_rows(pool, "messages") == 4


async def test_cancel_all_works_through_every_chunk(api, pool, monkeypatch):
    monkeypatch.setattr(messages_api, "CANCEL_ALL_CHUNK", 2)
    await publish_many(api, 5)
    assert await cancel(api) == {"cancelled": 5}
    assert await pending_ids(pool) == set()


async def test_cancel_all_leaves_messages_created_after_the_request_alone(api, pool, clock):
    later = make_message(clock.now() + timedelta(hours=1))
    await messages.insert_many(pool, [later], now=clock.now() + timedelta(hours=1))
    await publish_many(api, 1)
    assert await cancel(api) == {"cancelled": 1}
    assert await pending_ids(pool) == {later.id}


async def test_query_message_ids_repeated_or_comma_separated(api, pool):
    a, b, c, d = await publish_many(api, 4)
    assert await cancel(api, f"messageIds={a}&messageIds={b},{c}") == {"cancelled": 3}
    assert await pending_ids(pool) == {d}


@pytest.mark.parametrize(
    ("fields", "query"),
    [
        ({"topic_name": "g", "endpoint_name": "e"}, "topicName=g"),
        ({"queue_name": "q"}, "queueName=q"),
        ({"url": "http://127.0.0.1:9/target?x=1"}, "url=" + quote("http://127.0.0.1:9/target?x=1")),
        ({"labels": ("a", "b")}, "label=b"),
        ({"labels": ("c",)}, "label=zzz,c"),
        ({"schedule_id": "scd_1"}, "scheduleId=scd_1"),
        ({"caller_ip": "10.1.2.3"}, "callerIp=10.1.2.3"),
        ({"caller_ip": "10.1.2.3"}, "callerIP=10.1.2.3"),
        ({"flow_control_key": "k"}, "flowControlKey=k"),
        ({"url": "https://Target.example.com/p"}, "host=target.example.com"),
        ({"url": "https://x.example.com/p/q?z=1"}, "path=/p/q"),
        ({"labels": ("a",), "queue_name": "q"}, "label=a&queueName=q"),
    ],
)
async def test_query_filters_cancel_only_matching_messages(api, pool, clock, fields, query):
    others = [
        make_message(clock.now(), url=OTHER),
        make_message(clock.now(), url=OTHER, labels=("a",)),  # matches one filter of the last case
    ]
    target = make_message(clock.now(), **fields)
    await messages.insert_many(pool, [*others, target], now=clock.now())
    assert await cancel(api, query) == {"cancelled": 1}
    assert await pending_ids(pool) == {m.id for m in others}


async def test_json_body_filters_work_like_query_filters(api, pool, clock):
    queued = make_message(clock.now(), queue_name="q")
    other = make_message(clock.now(), queue_name="r")
    await messages.insert_many(pool, [queued, other], now=clock.now())
    assert await cancel(api, body={"queueName": ["q"]}) == {"cancelled": 1}
    assert await pending_ids(pool) == {other.id}


async def test_from_and_to_date_bound_creation_time_inclusively(api, pool, clock):
    # Sub-millisecond digits: toDate equal to a shown millisecond must still include it.
    clock.set(clock.now().replace(microsecond=123_456))
    first = (await publish(api, A))["messageId"]
    middle_at = clock.advance(timedelta(seconds=10))
    await publish(api, A)
    clock.advance(timedelta(seconds=10))
    last = (await publish(api, A))["messageId"]
    millis = to_millis(middle_at)
    assert await cancel(api, f"fromDate={millis}&toDate={millis}") == {"cancelled": 1}
    assert await pending_ids(pool) == {first, last}
    assert await cancel(api, f"fromDate={millis}") == {"cancelled": 1}
    assert await pending_ids(pool) == {first}


async def test_count_is_not_a_limit_one_call_cancels_every_match(api, pool, clock):
    # The Node SDK always sends count=100 and documents that one call cancels every match.
    for _ in range(3):
        await publish(api, A)
        clock.advance(timedelta(seconds=1))
    assert await cancel(api, "count=2") == {"cancelled": 3}
    assert await pending_ids(pool) == set()
    assert await cancel(api, "count=2") == {"cancelled": 0}


@pytest.mark.parametrize(
    ("query", "needle"),
    [
        ("queuename=q", "unknown parameter 'queuename'"),
        ("count=0", "count"),
        ("count=501", "count"),
        ("fromDate=yesterday", "fromDate"),
    ],
)
async def test_bad_query_is_400_and_cancels_nothing(api, pool, query, needle):
    await publish_many(api, 2)
    payload = await cancel(api, query, status=400)
    assert needle in payload["error"]
    assert len(await pending_ids(pool)) == 2


@pytest.mark.parametrize(
    "raw", [b"not json", b"{}", b"[]", b'{"messageIds": [{"id": 1}]}', b'{"queueNme": "q"}']
)
async def test_bad_json_body_is_400_and_cancels_nothing(api, pool, raw):
    await publish_many(api, 1)
    response = await api.delete("/v2/messages", headers=AUTH, data=raw)
    assert response.status == 400
    assert "error" in await response.json()
    assert len(await pending_ids(pool)) == 1


async def test_too_many_message_ids_is_400(api, pool):
    ids = [f"msg_{i}" for i in range(messages_api.MAX_MESSAGE_IDS + 1)]
    payload = await cancel(api, body={"messageIds": ids}, status=400)
    assert f"at most {messages_api.MAX_MESSAGE_IDS}" in payload["error"]
