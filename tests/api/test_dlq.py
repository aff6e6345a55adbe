"""The DLQ endpoints. Entries are made through the store (claim, then give up), not by waiting
for deliveries."""

from __future__ import annotations

import base64
from datetime import timedelta

import orjson
import pytest

from tests.api.conftest import AUTH, count_rows, dead_letter, dead_letters_for, raw_request
from wirepost.clock import to_millis
from wirepost.store import messages

URL_A = "http://127.0.0.1:9/a"
URL_B = "http://127.0.0.1:9/b"
PY_REQUIRED = {"messageId", "url", "method", "maxRetries", "notBefore", "createdAt"}


async def get_json(api, path: str, status: int = 200) -> dict:
    response = await api.get(path, headers=AUTH)
    payload = await response.json()
    assert response.status == status, payload
    return payload


async def dlq_ids(api, query: str = "") -> list[str]:
    payload = await get_json(api, "/v2/dlq" + (f"?{query}" if query else ""))
    assert "cursor" not in payload
    return [m["dlqId"] for m in payload["messages"]]


@pytest.fixture
async def three(pool, clock):
    """Three DLQ entries: two for URL_A (labels x, y), one for URL_B; status 500, 404, 500."""
    now = clock.now()
    made = await dead_letters_for(pool, now, [{"url": URL_A, "labels": ("x",)}])
    made += await dead_letters_for(
        pool, now, [{"url": URL_A, "labels": ("y",)}], status=404, body=b"404 Not Found"
    )
    made += await dead_letters_for(pool, now + timedelta(seconds=10), [{"url": URL_B}])
    return made


async def test_list_dlq_shows_each_entry_with_its_last_response(api, three, clock):
    payload = await get_json(api, "/v2/dlq")
    assert set(payload) == {"messages"}
    entries = payload["messages"]
    assert [e["dlqId"] for e in entries] == [str(dlq_id) for _, dlq_id in three]
    first_message, _ = three[0]
    first = entries[0]
    assert set(first) >= PY_REQUIRED
    assert first["messageId"] == first_message.id
    assert first["url"] == URL_A
    assert first["responseStatus"] == 500
    assert first["responseBody"] == "boom"
    assert first["responseHeader"] == {"Content-Type": ["text/plain"]}
    assert first["body"] == first_message.body.decode()
    assert first["createdAt"] == to_millis(clock.now())
    assert entries[1]["responseBody"] == "404 Not Found"
    assert entries[1]["responseStatus"] == 404


async def test_list_dlq_binary_response_body_is_base64(api, pool, clock):
    await dead_letters_for(pool, clock.now(), [{}], body=b"\xff\xfe")
    [entry] = (await get_json(api, "/v2/dlq"))["messages"]
    assert entry["responseBodyBase64"] == base64.b64encode(b"\xff\xfe").decode()
    assert "responseBody" not in entry


async def test_list_dlq_filters(api, three, clock):
    ids = [str(dlq_id) for _, dlq_id in three]
    assert await dlq_ids(api, f"url={URL_A}") == ids[:2]
    assert await dlq_ids(api, "label=y") == ids[1:2]
    assert await dlq_ids(api, "responseStatus=404") == ids[1:2]
    assert await dlq_ids(api, f"messageId={three[2][0].id}") == ids[2:]
    assert await dlq_ids(api, f"dlqIds={ids[0]}&dlqIds={ids[2]}") == [ids[0], ids[2]]
    assert await dlq_ids(api, f"fromDate={to_millis(clock.now() + timedelta(seconds=10))}") == [
        ids[2]
    ]
    assert await dlq_ids(api, f"toDate={to_millis(clock.now())}") == ids[:2]
    assert await dlq_ids(api, "url=http://127.0.0.1:9/none") == []


async def test_list_dlq_order_and_cursor_pages(api, three):
    ids = [str(dlq_id) for _, dlq_id in three]
    assert await dlq_ids(api, "order=latestFirst") == list(reversed(ids))
    for order, expected in (("earliestFirst", ids), ("latestFirst", list(reversed(ids)))):
        first = await get_json(api, f"/v2/dlq?count=2&order={order}")
        assert [m["dlqId"] for m in first["messages"]] == expected[:2]
        assert first["cursor"].isdigit()
        second = await get_json(api, f"/v2/dlq?count=2&order={order}&cursor={first['cursor']}")
        assert [m["dlqId"] for m in second["messages"]] == expected[2:]
        assert "cursor" not in second


@pytest.mark.parametrize(
    "query", ["cursor=x", "count=0", "count=101", "order=sideways", "dlqIds=abc", "toDate=now"]
)
async def test_list_dlq_bad_query_is_400(api, query):
    payload = await get_json(api, f"/v2/dlq?{query}", status=400)
    assert set(payload) == {"error"}


async def test_get_dlq_entry(api, three):
    message, dlq_id = three[1]
    entry = await get_json(api, f"/v2/dlq/{dlq_id}")
    assert entry["dlqId"] == str(dlq_id)
    assert entry["messageId"] == message.id
    assert entry["responseStatus"] == 404
    assert entry["labels"] == ["y"]


@pytest.mark.parametrize("dlq_id", ["999999", "abc", "1-0"])
async def test_get_unknown_dlq_entry_is_404(api, dlq_id):
    payload = await get_json(api, f"/v2/dlq/{dlq_id}", status=404)
    assert set(payload) == {"error"}


async def test_delete_dlq_entry_then_404(api, pool, three):
    _, dlq_id = three[0]
    response = await api.delete(f"/v2/dlq/{dlq_id}", headers=AUTH)
    assert response.status == 200
    await get_json(api, f"/v2/dlq/{dlq_id}", status=404)
    again = await api.delete(f"/v2/dlq/{dlq_id}", headers=AUTH)
    assert again.status == 404
    assert "error" in await again.json()
    assert await count_rows(pool, "dead_letters") == 2


async def test_retry_dlq_entry_publishes_a_new_message_and_removes_the_entry(api, pool, clock):
    message, dlq_id = await dead_letter(pool, clock.now(), url=URL_A, body=b"again")
    clock.advance(timedelta(minutes=1))
    response = await api.post(f"/v2/dlq/retry/{dlq_id}", headers=AUTH)
    assert response.status == 201
    payload = await response.json()
    assert set(payload) == {"messageId"}
    assert payload["messageId"] != message.id
    fresh = await messages.find(pool, payload["messageId"])
    assert fresh is not None
    assert (fresh.url, fresh.body, fresh.headers) == (message.url, message.body, message.headers)
    assert fresh.not_before == clock.now()
    assert fresh.max_retries == message.max_retries
    due = await pool.fetchval("SELECT available_at FROM deliveries WHERE message_id = $1", fresh.id)
    assert due == clock.now()
    await get_json(api, f"/v2/dlq/{dlq_id}", status=404)
    second = await api.post(f"/v2/dlq/retry/{dlq_id}", headers=AUTH)
    assert second.status == 404


async def test_retry_dlq_entry_applies_override_headers(api, pool, clock):
    _, dlq_id = await dead_letter(pool, clock.now())
    response = await api.post(
        f"/v2/dlq/retry/{dlq_id}",
        headers={**AUTH, "Upstash-Retries": "0", "Upstash-Delay": "5m", "Upstash-Method": "PUT"},
    )
    assert response.status == 201
    fresh = await messages.find(pool, (await response.json())["messageId"])
    assert fresh is not None
    assert fresh.max_retries == 0
    assert fresh.method == "PUT"
    assert fresh.not_before == clock.now() + timedelta(minutes=5)


async def test_retry_dlq_entry_with_a_bad_override_keeps_the_entry(api, pool, clock):
    _, dlq_id = await dead_letter(pool, clock.now())
    before = await count_rows(pool, "messages")
    response = await api.post(f"/v2/dlq/retry/{dlq_id}", headers={**AUTH, "Upstash-Retries": "x"})
    assert response.status == 400
    assert "Upstash-Retries" in (await response.json())["error"]
    await get_json(api, f"/v2/dlq/{dlq_id}")
    assert await count_rows(pool, "messages") == before


async def test_retry_dlq_bulk_by_query_ids(api, pool, three):
    ids = [str(dlq_id) for _, dlq_id in three]
    response = await raw_request(
        api, "POST", f"/v2/dlq/retry?dlqIds={ids[0]}&dlqIds={ids[2]}", headers=AUTH
    )
    assert response.status == 201
    payload = await response.json()
    assert payload["cursor"] == ""
    assert len(payload["responses"]) == 2
    new_ids = {r["messageId"] for r in payload["responses"]}
    assert new_ids.isdisjoint({m.id for m, _ in three})
    assert await dlq_ids(api) == [ids[1]]
    urls = {(await messages.find(pool, i)).url for i in new_ids}  # type: ignore[union-attr]
    assert urls == {URL_A, URL_B}


async def test_retry_dlq_bulk_by_json_body_and_by_filter(api, three):
    ids = [str(dlq_id) for _, dlq_id in three]
    by_body = await raw_request(
        api,
        "POST",
        "/v2/dlq/retry",
        headers={**AUTH, "Content-Type": "application/json"},
        data=orjson.dumps({"dlqIds": [ids[1]]}),
    )
    assert by_body.status == 201
    assert len((await by_body.json())["responses"]) == 1
    by_filter = await raw_request(api, "POST", f"/v2/dlq/retry?url={URL_B}", headers=AUTH)
    assert by_filter.status == 201
    assert len((await by_filter.json())["responses"]) == 1
    assert await dlq_ids(api) == [ids[0]]


async def test_delete_dlq_bulk_by_json_body(api, three):
    ids = [str(dlq_id) for _, dlq_id in three]
    response = await raw_request(
        api,
        "DELETE",
        "/v2/dlq",
        headers={**AUTH, "Content-Type": "application/json"},
        data=orjson.dumps({"dlqIds": [ids[0], ids[2], "999999"]}),
    )
    assert response.status == 200
    assert await response.json() == {"deleted": 2}
    assert await dlq_ids(api) == [ids[1]]


@pytest.mark.parametrize("form", ["repeated", "comma"])
async def test_delete_dlq_bulk_by_query_ids(api, three, form):
    ids = [str(dlq_id) for _, dlq_id in three]
    query = (
        f"dlqIds={ids[0]}&dlqIds={ids[1]}" if form == "repeated" else f"dlqIds={ids[0]},{ids[1]}"
    )
    response = await raw_request(api, "DELETE", f"/v2/dlq?{query}", headers=AUTH)
    assert response.status == 200
    assert await response.json() == {"deleted": 2}
    assert await dlq_ids(api) == [ids[2]]


async def test_delete_dlq_bulk_by_filter_pages_with_cursor(api, pool, clock):
    made = await dead_letters_for(pool, clock.now(), [{"url": URL_A} for _ in range(5)])
    await dead_letters_for(pool, clock.now(), [{"url": URL_B}])
    deleted = 0
    rounds = 0
    cursor = None
    while True:
        query = f"url={URL_A}&count=2" + (f"&cursor={cursor}" if cursor else "")
        response = await raw_request(api, "DELETE", f"/v2/dlq?{query}", headers=AUTH)
        assert response.status == 200
        payload = await response.json()
        deleted += payload["deleted"]
        rounds += 1
        if "cursor" not in payload:
            break
        cursor = payload["cursor"]
        assert cursor.isdigit()
        assert rounds < 10
    assert deleted == len(made)
    remaining = (await get_json(api, "/v2/dlq"))["messages"]
    assert [m["url"] for m in remaining] == [URL_B]


@pytest.mark.parametrize(
    "body", [b"not json", b'{"dlqIds": "1"}', b'{"dlqIds": [null]}', b"[1, 2]"]
)
async def test_delete_dlq_bulk_bad_body_is_400(api, pool, three, body):
    response = await raw_request(api, "DELETE", "/v2/dlq", headers=AUTH, data=body)
    assert response.status == 400
    assert "dlqIds" in (await response.json())["error"]
    assert await count_rows(pool, "dead_letters") == 3


async def test_delete_dlq_bulk_bad_ids_is_400(api, pool, three):
    response = await raw_request(
        api, "DELETE", "/v2/dlq", headers=AUTH, data=orjson.dumps({"dlqIds": ["abc"]})
    )
    assert response.status == 400
    assert await count_rows(pool, "dead_letters") == 3
