"""Queues, enqueue and flow-control endpoints."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.api.conftest import AUTH, raw_request

Client = TestClient[Any, Any]


async def test_enqueue_creates_the_queue_and_counts_lag(api: Client):
    resp = await raw_request(
        api, "POST", "/v2/enqueue/jobs/http://127.0.0.1:9/a?x=1", headers=AUTH, data=b"1"
    )
    assert resp.status == 201
    assert (await resp.json())["url"] == "http://127.0.0.1:9/a?x=1"
    resp = await api.get("/v2/queues/jobs", headers=AUTH)
    queue = await resp.json()
    assert (queue["name"], queue["parallelism"], queue["lag"], queue["paused"]) == (
        "jobs",
        1,
        1,
        False,
    )
    assert {"createdAt", "updatedAt"} <= queue.keys()


async def test_queue_upsert_list_pause_resume_delete(api: Client):
    body = {"queueName": "q1", "parallelism": 3, "paused": False}
    assert (await api.post("/v2/queues", json=body, headers=AUTH)).status == 200
    assert (await api.post("/v2/queues/q1/pause", headers=AUTH)).status == 200
    [queue] = await (await api.get("/v2/queues", headers=AUTH)).json()
    assert (queue["parallelism"], queue["paused"]) == (3, True)
    assert (await api.post("/v2/queues/q1/resume", headers=AUTH)).status == 200
    assert (await api.delete("/v2/queues/q1", headers=AUTH)).status == 200
    assert (await api.get("/v2/queues/q1", headers=AUTH)).status == 404


async def test_deleting_a_queue_cancels_its_waiting_messages(api: Client):
    resp = await raw_request(
        api, "POST", "/v2/enqueue/gone/http://127.0.0.1:9/a", headers=AUTH, data=b"1"
    )
    message_id = (await resp.json())["messageId"]
    assert (await api.delete("/v2/queues/gone", headers=AUTH)).status == 200
    events = await (await api.get(f"/v2/events?messageId={message_id}", headers=AUTH)).json()
    assert events["events"][0]["state"] == "CANCELED"


async def test_queue_bad_input_is_a_clear_400(api: Client):
    resp = await api.post("/v2/queues", json={"queueName": "bad name!"}, headers=AUTH)
    assert resp.status == 400
    assert "queue name" in (await resp.json())["error"]
    resp = await api.post("/v2/queues", json={"queueName": "q", "parallelism": 0}, headers=AUTH)
    assert resp.status == 400
    resp = await api.post("/v2/queues", json={"queueName": "q", "parallelism": 5000}, headers=AUTH)
    assert resp.status == 412
    resp = await raw_request(api, "POST", "/v2/enqueue/b%20ad/http://127.0.0.1:9/a", headers=AUTH)
    assert resp.status == 400


async def test_flow_control_key_is_reported_and_managed(api: Client):
    headers = {
        **AUTH,
        "Upstash-Flow-Control-Key": "fk",
        "Upstash-Flow-Control-Value": "parallelism=3, rate=10, period=1m",
    }
    resp = await raw_request(
        api, "POST", "/v2/publish/http://127.0.0.1:9/f", headers=headers, data=b"x"
    )
    assert resp.status == 201
    message_id = (await resp.json())["messageId"]
    message = await (await api.get(f"/v2/messages/{message_id}", headers=AUTH)).json()
    assert (
        message["flowControlKey"],
        message["parallelism"],
        message["rate"],
        message["period"],
    ) == ("fk", 3, 10, 60)
    info = await (await api.get("/v2/flowControl/fk", headers=AUTH)).json()
    assert (
        info["flowControlKey"],
        info["waitListSize"],
        info["parallelismMax"],
        info["rateMax"],
        info["ratePeriod"],
    ) == ("fk", 1, 3, 10, 60)
    assert (await api.post("/v2/flowControl/fk/pause", headers=AUTH)).status == 200
    assert (await api.post("/v2/flowControl/fk/pin?parallelism=1", headers=AUTH)).status == 200
    info = await (await api.get("/v2/flowControl/fk", headers=AUTH)).json()
    assert (info["isPaused"], info["isPinnedParallelism"], info["parallelismMax"]) == (
        True,
        True,
        1,
    )
    assert (
        await api.post("/v2/flowControl/fk/unpin?parallelism=true&rate=false", headers=AUTH)
    ).status == 200
    assert (await api.post("/v2/flowControl/fk/resetRate", headers=AUTH)).status == 200
    assert (await api.post("/v2/flowControl/fk/resume", headers=AUTH)).status == 200
    assert (await api.get("/v2/flowControl/nope", headers=AUTH)).status == 404
    listed = await (await api.get("/v2/flowControl", headers=AUTH)).json()
    assert [f["flowControlKey"] for f in listed] == ["fk"]
    glob = await (await api.get("/v2/globalParallelism", headers=AUTH)).json()
    assert set(glob) == {"parallelismMax", "parallelismCount"}


async def test_bad_flow_control_values_are_rejected(api: Client):
    for value in (
        "",
        "parallelism",
        "speed=3",
        "parallelism=0",
        "rate=x",
        "period=5s",
        "rate=1, period=30d",
    ):
        headers = {**AUTH, "Upstash-Flow-Control-Key": "k", "Upstash-Flow-Control-Value": value}
        resp = await raw_request(
            api, "POST", "/v2/publish/http://127.0.0.1:9/f", headers=headers, data=b"x"
        )
        assert resp.status == 400, value
        assert "Upstash-Flow-Control" in (await resp.json())["error"]
    resp = await raw_request(
        api,
        "POST",
        "/v2/enqueue/q/http://127.0.0.1:9/f",
        data=b"x",
        headers={**AUTH, "Upstash-Flow-Control-Key": "k", "Upstash-Flow-Control-Value": "rate=1"},
    )
    assert resp.status == 400
