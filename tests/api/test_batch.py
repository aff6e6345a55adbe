"""POST /v2/batch: mixed URL, group and queue items in one transaction, header keys in any case,
the answer aligned with the request, and the whole batch validated before anything is stored."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import orjson
import pytest
from qstash.message import parse_batch_response, prepare_batch_message_body

from tests.api.conftest import AUTH, count_rows
from wirepost.api import batch
from wirepost.errors import InvalidRequest, PayloadTooLarge
from wirepost.store import messages

A = "http://127.0.0.1:9/a"
B = "http://127.0.0.1:9/b"


async def post_batch(api, items: Any, status: int = 201) -> Any:
    response = await api.post("/v2/batch", headers=AUTH, data=orjson.dumps(items))
    payload = await response.json()
    assert response.status == status, payload
    return payload


async def make_group(api, name: str, urls: list[str]) -> None:
    response = await api.post(
        f"/v2/topics/{name}/endpoints",
        headers=AUTH,
        json={"endpoints": [{"url": u} for u in urls]},
    )
    assert response.status == 200


async def test_batch_answers_aligned_objects_and_arrays(api, pool):
    await make_group(api, "g", [A, B])
    answers = await post_batch(
        api,
        [
            {"destination": A, "headers": {}, "body": "one"},
            {"destination": "g", "headers": {}, "body": "two"},
            {"destination": B, "body": None, "queue": "jobs"},
        ],
    )
    assert isinstance(answers[0], dict)
    assert answers[0]["url"] == A
    assert isinstance(answers[1], list)
    assert [a["url"] for a in answers[1]] == [A, B]
    assert isinstance(answers[2], dict)
    assert answers[2]["url"] == B
    first = await messages.find(pool, answers[0]["messageId"])
    grouped = [await messages.find(pool, a["messageId"]) for a in answers[1]]
    queued = await messages.find(pool, answers[2]["messageId"])
    assert first is not None
    assert (first.body, first.topic_name, first.queue_name) == (b"one", None, None)
    assert [(m.body, m.topic_name) for m in grouped if m] == [(b"two", "g"), (b"two", "g")]
    assert queued is not None
    assert (queued.body, queued.queue_name) == (b"", "jobs")
    assert await count_rows(pool, "messages") == 4


async def test_batch_queue_item_creates_its_queue(api):
    await post_batch(api, [{"destination": A, "queue": "fresh-queue"}])
    response = await api.get("/v2/queues/fresh-queue", headers=AUTH)
    assert response.status == 200
    assert (await response.json())["name"] == "fresh-queue"


async def test_batch_header_keys_in_any_case(api, pool, clock):
    [answer] = await post_batch(
        api,
        [
            {
                "destination": A,
                "headers": {
                    "upstash-delay": "10s",
                    "content-type": "application/json",
                    "upstash-forward-x-custom": "yes",
                    "UPSTASH-RETRIES": "1",
                    "upstash-method": "put",
                },
                "body": "{}",
            }
        ],
    )
    stored = await messages.find(pool, answer["messageId"])
    assert stored is not None
    assert stored.not_before == clock.now() + timedelta(seconds=10)
    assert stored.headers == {"Content-Type": ["application/json"], "X-Custom": ["yes"]}
    assert stored.max_retries == 1
    assert stored.method == "PUT"


async def test_batch_items_sharing_headers_keep_their_own_body_and_config(api, pool, clock):
    # Items with the same headers share one template; each keeps its own body, dedup key and
    # the config of its own headers and destination query.
    same = {"Upstash-Retries": "1", "Upstash-Content-Based-Deduplication": "true"}
    answers = await post_batch(
        api,
        [
            {"destination": A, "headers": same, "body": "one"},
            {"destination": A, "headers": {"Upstash-Retries": "2"}, "body": "two"},
            {"destination": A, "headers": same, "body": "three"},
            {"destination": A + "?upstash-delay=10s", "headers": same, "body": "four"},
        ],
    )
    assert not any(a.get("deduplicated") for a in answers)
    stored = [await messages.find(pool, a["messageId"]) for a in answers]
    assert [(m.body, m.max_retries) for m in stored if m] == [
        (b"one", 1),
        (b"two", 2),
        (b"three", 1),
        (b"four", 1),
    ]
    assert [m.not_before - clock.now() for m in stored if m] == [timedelta(0)] * 3 + [
        timedelta(seconds=10)
    ]
    assert len({m.dedup_id for m in stored if m}) == 4
    items = [{"destination": A, "headers": same, "body": "three"}]
    [again] = await post_batch(api, items, status=202)
    assert again == {"messageId": answers[2]["messageId"], "url": A, "deduplicated": True}


async def test_batch_items_alike_but_for_their_body_are_planned_from_the_first(api, pool):
    # Repeats of a (destination, headers, queue) are planned from the first of them: each still
    # gets its own ids, body and deduplication key, per endpoint of a group.
    await make_group(api, "g", [A, B])
    same = {"Upstash-Content-Based-Deduplication": "true", "Upstash-Label": "l"}
    answers = await post_batch(
        api,
        [
            {"destination": "g", "headers": same, "body": "one"},
            {"destination": "g", "headers": same, "body": "two"},
            {"destination": "g", "headers": same, "body": "one"},
            {"destination": A, "headers": same, "body": "three", "queue": "q"},
            {"destination": A, "headers": same, "body": "four", "queue": "q"},
        ],
    )
    fanned = [a for group in answers[:3] for a in group]
    assert [(a["url"], a.get("deduplicated", False)) for a in fanned] == [
        (A, False),
        (B, False),
        (A, False),
        (B, False),
        (A, True),
        (B, True),
    ]
    assert [a["messageId"] for a in fanned[4:]] == [a["messageId"] for a in fanned[:2]]
    stored = [await messages.find(pool, a["messageId"]) for a in fanned[:4] + answers[3:]]
    assert [(m.url, m.body, m.topic_name, m.endpoint_name, m.queue_name) for m in stored if m] == [
        (A, b"one", "g", None, None),
        (B, b"one", "g", None, None),
        (A, b"two", "g", None, None),
        (B, b"two", "g", None, None),
        (A, b"three", None, None, "q"),
        (A, b"four", None, None, "q"),
    ]
    assert {m.labels for m in stored if m} == {("l",)}
    assert len({m.id for m in stored if m}) == 6
    assert len({m.dedup_id for m in stored if m}) == 6
    assert await count_rows(pool, "messages") == 6


async def test_batch_from_the_python_sdk_round_trips(api, pool):
    await make_group(api, "g", [A, B])
    body = prepare_batch_message_body(
        [
            {"url": A, "body": "hello", "headers": {"test-header": "v"}, "retries": 0},
            {"url_group": "g", "body": "fan", "delay": 5},
            {"url": B, "queue": "q1", "content_type": "text/plain", "label": "l1"},
        ]
    )
    assert json.loads(body)[0]["queue"] is None  # Python sends "queue": null
    response = await api.post("/v2/batch", headers=AUTH, data=body)
    assert response.status == 201
    parsed = parse_batch_response(await response.json())
    assert not isinstance(parsed[0], list)
    assert isinstance(parsed[1], list)
    assert len(parsed[1]) == 2
    stored = await messages.find(pool, parsed[0].message_id)
    assert stored is not None
    assert stored.headers == {"Test-Header": ["v"]}
    assert stored.max_retries == 0
    labelled = await messages.find(pool, parsed[2].message_id)
    assert labelled is not None
    assert (labelled.queue_name, labelled.labels) == ("q1", ("l1",))


async def test_batch_dedup_within_one_batch_reports_the_first(api, pool):
    headers = {"Upstash-Deduplication-Id": "same"}
    first, second = await post_batch(
        api,
        [
            {"destination": A, "headers": headers, "body": "x"},
            {"destination": A, "headers": headers, "body": "x"},
        ],
    )
    assert second == {"messageId": first["messageId"], "url": A, "deduplicated": True}
    assert await count_rows(pool, "messages") == 1


async def test_batch_of_only_duplicates_is_202(api, pool):
    items = [{"destination": A, "headers": {"upstash-deduplication-id": "d"}, "body": "x"}]
    await post_batch(api, items)
    [again] = await post_batch(api, items, status=202)
    assert again["deduplicated"] is True


async def test_empty_batch_answers_an_empty_array(api, pool):
    assert await post_batch(api, [], status=200) == []
    assert await count_rows(pool, "messages") == 0


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ({"destination": A, "headers": {"Upstash-Delay": "soon"}}, "Upstash-Delay"),
        ({"destination": "missing-group"}, "missing-group"),
        ({"destination": "ftp://x.example.com"}, "http:// or https://"),
        ({"destination": ""}, "destination is required"),
        ({"headers": {}}, "destination is required"),
        ({"destination": A, "body": 5}, "body must be a string"),
        ({"destination": A, "headers": ["x"]}, "headers must be an object"),
        ({"destination": A, "headers": {"X": {"a": 1}}}, "must be a string"),
        ({"destination": A, "headers": {"Bad Name": "v"}}, "not a valid HTTP header name"),
        ({"destination": A, "headers": {"Upstash-Forward-X": "a\r\nb"}}, "line breaks"),
        ({"destination": A, "queue": "bad name"}, "queue name"),
        ({"destination": A, "queue": 7}, "queue must be"),
        (
            {
                "destination": A,
                "queue": "q",
                "headers": {
                    "Upstash-Flow-Control-Key": "k",
                    "Upstash-Flow-Control-Value": "parallelism=1",
                },
            },
            "cannot be combined with a queue",
        ),
        ("just a string", "must be an object"),
    ],
)
async def test_one_bad_item_fails_the_whole_batch_naming_it(api, pool, item, needle):
    response = await api.post(
        "/v2/batch", headers=AUTH, data=orjson.dumps([{"destination": B, "body": "ok"}, item])
    )
    assert response.status == 400
    error = (await response.json())["error"]
    assert error.startswith("batch item 1: ")
    assert needle in error
    assert await count_rows(pool, "messages") == 0


@pytest.mark.parametrize("raw", [b"not json", b'{"destination": "x"}', b"null"])
async def test_batch_that_is_not_a_json_array_is_400(api, pool, raw):
    response = await api.post("/v2/batch", headers=AUTH, data=raw)
    assert response.status == 400
    assert "JSON array" in (await response.json())["error"]


async def test_batch_with_too_many_items_is_400(api, pool):
    items = [{"destination": A}] * (batch.MAX_BATCH_ITEMS + 1)
    response = await api.post("/v2/batch", headers=AUTH, data=orjson.dumps(items))
    assert response.status == 400
    assert f"at most {batch.MAX_BATCH_ITEMS}" in (await response.json())["error"]
    assert await count_rows(pool, "messages") == 0


async def test_batch_with_the_most_items_allowed_is_stored(api, pool):
    items = [{"destination": A, "body": str(i)} for i in range(batch.MAX_BATCH_ITEMS)]
    answers = await post_batch(api, items)
    assert len(answers) == batch.MAX_BATCH_ITEMS
    assert await count_rows(pool, "messages") == batch.MAX_BATCH_ITEMS


async def test_batch_larger_than_max_batch_size_is_413(make_api, pool):
    api = await make_api(max_batch_size=1000)
    items = [{"destination": A, "body": "x" * 400} for _ in range(3)]
    response = await api.post("/v2/batch", headers=AUTH, data=orjson.dumps(items))
    assert response.status == 413
    assert "WIREPOST_MAX_BATCH_SIZE" in (await response.json())["error"]
    assert await count_rows(pool, "messages") == 0


def test_parse_batch_bounds_each_item_body():
    raw = orjson.dumps([{"destination": A, "body": "short"}, {"destination": A, "body": "x" * 11}])
    with pytest.raises(PayloadTooLarge, match="batch item 1: body of 11 bytes"):
        batch.parse_batch(raw, max_body_size=10)


def test_parse_batch_accepts_header_lists_numbers_and_booleans():
    raw = orjson.dumps(
        [
            {
                "destination": A,
                "headers": {"Upstash-Retries": 2, "X": ["a", "b"], "Upstash-Header-Forward": True},
            }
        ]
    )
    [item] = batch.parse_batch(raw, max_body_size=100)
    assert item.headers.getall("x") == ["a", "b"]
    assert item.headers["upstash-retries"] == "2"
    assert item.headers["Upstash-Header-Forward"] == "true"
    with pytest.raises(InvalidRequest):
        batch.parse_batch(orjson.dumps([{"destination": A, "headers": {"X": [1]}}]), 100)
