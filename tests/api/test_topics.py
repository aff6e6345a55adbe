"""URL groups over HTTP (/v2/topics) and publishing to a group: shapes the SDKs parse, 4xx for bad
input, one message per endpoint in one transaction, and real signed deliveries carrying
Upstash-Topic-Name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from qstash.message import parse_publish_response
from qstash.url_group import parse_url_group_response

from tests.api.conftest import AUTH, count_rows, raw_request
from tests.conftest import TEST_CURRENT_KEY, TEST_NEXT_KEY, wait_until
from wirepost.api import topics
from wirepost.clock import to_millis
from wirepost.store import messages
from wirepost_verify import Verifier

A = "http://127.0.0.1:9/a"
B = "http://127.0.0.1:9/b?x=1"


async def upsert(api, name: str, endpoints: list[dict[str, Any]]) -> None:
    response = await api.post(
        f"/v2/topics/{name}/endpoints", headers=AUTH, json={"endpoints": endpoints}
    )
    assert response.status == 200, await response.text()


async def get_json(api, path: str, status: int = 200) -> Any:
    response = await api.get(path, headers=AUTH)
    assert response.status == status, await response.text()
    return await response.json()


async def test_upsert_then_get_has_the_url_group_shape(api, clock):
    await upsert(api, "orders", [{"url": A, "name": "first"}, {"url": B}])
    payload = await get_json(api, "/v2/topics/orders")
    assert payload == {
        "name": "orders",
        "createdAt": to_millis(clock.now()),
        "updatedAt": to_millis(clock.now()),
        "endpoints": [{"url": A, "name": "first"}, {"url": B}],
    }
    parsed = parse_url_group_response(payload)  # what the Python SDK does with it
    assert [(e.url, e.name) for e in parsed.endpoints] == [(A, "first"), (B, None)]


async def test_list_returns_every_group_also_with_a_trailing_slash(api):
    await upsert(api, "b-group", [{"url": A}])
    await upsert(api, "a.group_1", [{"url": B}])
    for path in ("/v2/topics", "/v2/topics/"):
        listed = await get_json(api, path)
        assert [g["name"] for g in listed] == ["a.group_1", "b-group"]
        assert listed[1]["endpoints"] == [{"url": A}]


async def test_get_unknown_group_is_404_json(api):
    payload = await get_json(api, "/v2/topics/nope", status=404)
    assert "nope" in payload["error"]


async def test_delete_group_answers_200_even_when_missing(api):
    await upsert(api, "g", [{"url": A}])
    for _ in range(2):
        response = await api.delete("/v2/topics/g", headers=AUTH)
        assert response.status == 200
    await get_json(api, "/v2/topics/g", status=404)


async def test_remove_endpoints_by_url_and_name_and_drop_empty_group(api):
    await upsert(api, "g", [{"url": A, "name": "a"}, {"url": B}])
    response = await api.delete(
        "/v2/topics/g/endpoints", headers=AUTH, json={"endpoints": [{"name": "a"}]}
    )
    assert response.status == 200
    assert (await get_json(api, "/v2/topics/g"))["endpoints"] == [{"url": B}]
    response = await api.delete(
        "/v2/topics/g/endpoints", headers=AUTH, json={"endpoints": [{"url": B}]}
    )
    assert response.status == 200
    await get_json(api, "/v2/topics/g", status=404)


async def test_remove_endpoints_of_unknown_group_is_404(api):
    response = await api.delete(
        "/v2/topics/nope/endpoints", headers=AUTH, json={"endpoints": [{"url": A}]}
    )
    assert response.status == 404


@pytest.mark.parametrize("name", ["has%20space", "a%2Fb", "%C3%BCn", "x" * 129])
async def test_invalid_group_name_is_400(api, pool, name):
    response = await raw_request(
        api,
        "POST",
        f"/v2/topics/{name}/endpoints",
        headers=AUTH,
        data=b'{"endpoints": [{"url": "http://127.0.0.1:9/a"}]}',
    )
    assert response.status == 400
    assert "URL group name" in (await response.json())["error"]
    assert await url_group_count(pool) == 0


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"not json", "body must be JSON"),
        (b'{"endpoints": {}}', "body must be JSON"),
        (b'{"endpoints": []}', "must not be empty"),
        (b'{"endpoints": [{"name": "x"}]}', "endpoints[0].url"),
        (b'{"endpoints": [{"url": "ftp://x.example.com"}]}', "endpoints[0].url"),
        (b'{"endpoints": [{"url": "http://127.0.0.1:9/a"}, {"url": "nope"}]}', "endpoints[1].url"),
        (b'{"endpoints": [{"url": "http://127.0.0.1:9/a", "name": 5}]}', "endpoints[0].name"),
    ],
)
async def test_upsert_bad_body_is_400_naming_the_problem(api, pool, body, needle):
    response = await raw_request(api, "POST", "/v2/topics/g/endpoints", headers=AUTH, data=body)
    assert response.status == 400
    assert needle in (await response.json())["error"]
    assert await url_group_count(pool) == 0


async def test_upsert_refuses_private_endpoints_by_destination_policy(make_api, pool):
    api = await make_api(destination_allowlist=())
    response = await api.post(
        "/v2/topics/g/endpoints", headers=AUTH, json={"endpoints": [{"url": A}]}
    )
    assert response.status == 400
    error = (await response.json())["error"]
    assert "endpoints[0].url" in error
    assert "WIREPOST_DESTINATION_ALLOWLIST" in error


async def test_upsert_more_endpoints_than_a_request_allows_is_400(api, pool):
    endpoints = [
        {"url": f"http://127.0.0.1:9/{i}"} for i in range(topics.MAX_ENDPOINTS_PER_REQUEST + 1)
    ]
    response = await api.post("/v2/topics/g/endpoints", headers=AUTH, json={"endpoints": endpoints})
    assert response.status == 400
    assert "at most" in (await response.json())["error"]


async def test_upsert_beyond_the_group_limit_is_412_and_changes_nothing(api, monkeypatch):
    monkeypatch.setattr(topics, "MAX_ENDPOINTS_PER_GROUP", 2)
    await upsert(api, "g", [{"url": A}, {"url": B}])
    response = await api.post(
        "/v2/topics/g/endpoints", headers=AUTH, json={"endpoints": [{"url": A + "c"}]}
    )
    assert response.status == 412
    assert "at most 2" in (await response.json())["error"]
    assert len((await get_json(api, "/v2/topics/g"))["endpoints"]) == 2


async def test_publish_to_a_group_fans_out_in_one_transaction(api, pool):
    await upsert(api, "g", [{"url": A, "name": "alpha"}, {"url": B}])
    response = await raw_request(api, "POST", "/v2/publish/g", headers=AUTH, data=b"payload")
    assert response.status == 201
    payload = await response.json()
    assert isinstance(payload, list)
    assert [p["url"] for p in payload] == [A, B]
    assert all(set(p) == {"messageId", "url"} for p in payload)
    parsed = parse_publish_response(payload)  # the Python SDK tells groups apart by the list
    assert isinstance(parsed, list)
    assert len(parsed) == 2
    stored = [await messages.find(pool, p["messageId"]) for p in payload]
    assert [(m.url, m.topic_name, m.endpoint_name, m.body) for m in stored if m] == [
        (A, "g", "alpha", b"payload"),
        (B, "g", None, b"payload"),
    ]
    assert await count_rows(pool, "deliveries") == 2


async def test_publish_to_a_group_with_a_dedup_id_is_202_the_second_time(api, pool):
    await upsert(api, "g", [{"url": A}, {"url": B}])
    headers = {**AUTH, "Upstash-Deduplication-Id": "once"}
    first = await raw_request(api, "POST", "/v2/publish/g", headers=headers, data=b"x")
    second = await raw_request(api, "POST", "/v2/publish/g", headers=headers, data=b"x")
    assert first.status == 201
    assert second.status == 202
    first_ids = [p["messageId"] for p in await first.json()]
    again = await second.json()
    assert [p["messageId"] for p in again] == first_ids
    assert all(p["deduplicated"] is True for p in again)
    assert await count_rows(pool, "messages") == 2


async def test_publish_to_a_group_takes_webhook_query_config(api, pool, clock):
    await upsert(api, "hooks", [{"url": A}, {"url": B}])
    target = "/v2/publish/hooks?upstash-retries=2&upstash-delay=1m&qstash_token=t"
    response = await raw_request(api, "POST", target, headers=AUTH, data=b"event")
    assert response.status == 201
    stored = [await messages.find(pool, p["messageId"]) for p in await response.json()]
    due = clock.now() + timedelta(minutes=1)
    assert [(m.url, m.max_retries, m.not_before) for m in stored if m] == [(A, 2, due), (B, 2, due)]


async def test_publish_to_an_unknown_group_is_404_and_stores_nothing(api, pool):
    response = await raw_request(api, "POST", "/v2/publish/missing", headers=AUTH, data=b"x")
    assert response.status == 404
    assert "missing" in (await response.json())["error"]
    assert await count_rows(pool, "messages") == 0


async def test_publish_to_api_llm_is_400(api, pool):
    response = await raw_request(api, "POST", "/v2/publish/api/llm", headers=AUTH, data=b"{}")
    assert response.status == 400
    assert "api/llm" in (await response.json())["error"]


async def test_bad_publish_header_to_a_group_is_400(api, pool):
    await upsert(api, "g", [{"url": A}])
    response = await raw_request(
        api, "POST", "/v2/publish/g", headers={**AUTH, "Upstash-Delay": "soon"}, data=b"x"
    )
    assert response.status == 400
    assert "Upstash-Delay" in (await response.json())["error"]
    assert await count_rows(pool, "messages") == 0


async def test_group_messages_show_topic_and_endpoint_in_logs(api):
    await upsert(api, "g", [{"url": A, "name": "alpha"}])
    [published] = await publish_group(api, "g")
    events = (await get_json(api, "/v2/events?topicName=g"))["events"]
    assert [(e["messageId"], e["topicName"], e["endpointName"]) for e in events] == [
        (published["messageId"], "g", "alpha")
    ]


async def test_each_endpoint_gets_a_signed_post_with_the_topic_name(make_api, receiver, pool):
    api = await make_api(run_delivery=True)
    urls = [receiver.url("/one"), receiver.url("/two?k=v")]
    await upsert(api, "fan", [{"url": urls[0], "name": "first"}, {"url": urls[1]}])
    published = await publish_group(api, "fan", body=b'{"n":1}')
    await wait_until(lambda: len(receiver.requests) == 2)
    verifier = Verifier(TEST_CURRENT_KEY, TEST_NEXT_KEY)
    by_url = {r.url(receiver.base): r for r in receiver.requests}
    assert set(by_url) == set(urls)
    for item in published:
        request = by_url[item["url"]]
        assert request.method == "POST"
        assert request.body == b'{"n":1}'
        assert request.headers["Upstash-Topic-Name"] == "fan"
        assert request.headers["Upstash-Message-Id"] == item["messageId"]
        claims = verifier.verify(request.headers["Upstash-Signature"], request.body, item["url"])
        assert claims["sub"] == item["url"]


async def publish_group(api, name: str, body: bytes = b"x") -> list[dict[str, Any]]:
    response = await raw_request(api, "POST", f"/v2/publish/{name}", headers=AUTH, data=body)
    assert response.status == 201, await response.text()
    return await response.json()  # type: ignore[no-any-return]


async def url_group_count(pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM url_groups"))
