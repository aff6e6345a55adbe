"""The official Node SDK (``@upstash/qstash`` 2.12, configured only by ``QSTASH_URL`` and
``QSTASH_TOKEN`` as an app is) against a running Wirepost, and its ``Receiver`` verifying
deliveries captured by the Python receiver. Skipped where Node or the package is missing."""

from __future__ import annotations

import base64
import json

import pytest
from qstash import QStash
from qstash.signing_key import SigningKey

from tests.compat.node_scripts import node_env, node_missing, run_node
from tests.e2e.wirepost_process import TOKEN
from tests.receiver import Received

pytestmark = [pytest.mark.compat, pytest.mark.skipif(bool(node_missing()), reason=node_missing())]


@pytest.fixture(scope="module")
def env(wirepost):
    return node_env(QSTASH_URL=wirepost.base_url, QSTASH_TOKEN=TOKEN)


@pytest.fixture(scope="module")
def keys(wirepost) -> SigningKey:
    client = QStash(TOKEN, base_url=wirepost.base_url, retry=False)
    try:
        return client.signing_key.get()
    finally:
        client.http._client.close()


def node_verify(got: Received, url: str, keys: SigningKey | None, env: dict[str, str]) -> dict:
    payload = {"signature": got.headers["Upstash-Signature"], "body": got.body.decode(), "url": url}
    if keys is not None:
        payload |= {"currentSigningKey": keys.current, "nextSigningKey": keys.next}
    return run_node("verify.mjs", payload, env)


def test_node_publish_batch_enqueue_and_messages(env, keys, sink, unique):
    tag, queue = unique("node"), unique("node-queue")

    out = run_node("publish.mjs", {"sink": sink.base, "tag": tag, "queue": queue}, env)

    url = sink.url(f"/{tag}/json?source=node")
    assert out["published"]["messageId"].startswith("msg_")
    assert out["published"]["url"] == url
    message = out["message"]
    assert (message["url"], message["method"], message["maxRetries"]) == (url, "PUT", 1)
    assert message["labels"] == ["node", tag]
    assert message["header"]["X-From"] == ["node"]
    assert json.loads(message["body"]) == {"hello": "node"}
    assert [item["url"] for item in out["batch"]] == [
        sink.url(f"/{tag}/batch-url"),
        sink.url(f"/{tag}/batch-queue"),
    ]
    assert out["queueInfo"]["name"] == queue
    assert out["cancelled"] == {"cancelled": 1}
    assert out["cancelAgain"]["status"] == 404
    assert out["cancelledByIds"] == {"cancelled": 1}
    assert out["cancelledByFilter"] == {"cancelled": 1}
    assert out["missing"]["status"] == 404

    delivered = sink.wait_for(lambda r: r.path.startswith(f"/{tag}/"), count=4)
    by_path = {got.path: got for got in delivered}
    assert set(by_path) == {f"/{tag}/{p}" for p in ("json", "batch-url", "batch-queue", "enqueued")}
    first = by_path[f"/{tag}/json"]
    assert first.method == "PUT"
    assert first.query == "source=node"
    assert first.headers["X-From"] == "node"
    assert first.headers["Content-Type"] == "application/json"
    assert by_path[f"/{tag}/batch-url"].headers["X-Batch"] == "1"
    for got in delivered:
        assert not any(name.lower().startswith("upstash-telemetry") for name in got.headers)
        assert "Upstash-Method" not in got.headers
        assert node_verify(got, got.url(sink.base), keys, env) == {"verified": True}


def test_node_receiver_rejects_a_tampered_body_and_a_wrong_url(env, keys, sink, unique):
    tag = unique("node-verify")
    run_node("url_groups.mjs", {"sink": sink.base, "tag": tag, "group": unique("g")}, env)
    [got, *_] = sink.wait_for(lambda r: r.path.startswith(f"/{tag}/"), count=2)
    url = got.url(sink.base)

    tampered = Received(got.method, got.path, got.query, got.headers, got.body + b" ")
    rejected = node_verify(tampered, url, keys, env)
    assert (rejected["verified"], rejected["name"]) == (False, "SignatureError")
    wrong_url = node_verify(got, url + "/elsewhere", keys, env)
    assert (wrong_url["verified"], wrong_url["name"]) == (False, "SignatureError")
    other = SigningKey("sig_" + "x" * 28, "sig_" + "y" * 28)
    assert node_verify(got, url, other, env)["verified"] is False
    assert node_verify(got, url, keys, env) == {"verified": True}


def test_node_url_groups(env, keys, sink, unique):
    tag, group = unique("node-fan"), unique("node-group")

    out = run_node("url_groups.mjs", {"sink": sink.base, "tag": tag, "group": group}, env)

    one, two = sink.url(f"/{tag}/one"), sink.url(f"/{tag}/two")
    assert out["got"]["name"] == group
    assert out["got"]["endpoints"] == [{"url": one, "name": "one"}, {"url": two}]
    assert group in out["listed"]
    assert sorted(p["url"] for p in out["published"]) == [one, two]
    assert out["message"]["topicName"] == group
    assert out["afterRemove"]["endpoints"] == [{"url": two}]
    assert out["afterDelete"]["status"] == 404
    delivered = sink.wait_for(lambda r: r.path.startswith(f"/{tag}/"), count=2)
    for got in delivered:
        assert got.headers["Upstash-Topic-Name"] == group
        assert node_verify(got, got.url(sink.base), keys, env) == {"verified": True}


def test_node_schedules(env, sink, unique):
    tag, schedule_id, queue = unique("node-cron"), unique("node-schedule"), unique("node-q")

    out = run_node(
        "schedules.mjs",
        {"sink": sink.base, "tag": tag, "scheduleId": schedule_id, "queue": queue},
        env,
    )

    created = out["got"]
    assert created["scheduleId"] == out["created"]["scheduleId"]
    assert created["destination"] == sink.url(f"/{tag}/scheduled")
    assert (created["cron"], created["method"], created["retries"]) == ("*/5 * * * *", "PUT", 2)
    assert (created["delay"], created["isPaused"], created["label"]) == (30, False, tag)
    assert created["header"]["X-Job"] == ["node"]
    assert created["header"]["Content-Type"] == ["application/json"]
    assert json.loads(created["body"]) == {"job": "report"}
    assert out["custom"] == {"scheduleId": schedule_id}
    custom = out["gotCustom"]
    assert (custom["cron"], custom["queueName"]) == ("CRON_TZ=America/New_York 0 8 * * *", queue)
    assert custom["header"]["Content-Type"] == ["text/plain"]
    assert {created["scheduleId"], schedule_id} <= set(out["listed"])
    assert (out["paused"], out["resumed"]) == (True, False)
    assert out["afterDelete"]["status"] == 404
    assert not {created["scheduleId"], schedule_id} & set(out["listedAfter"])


def test_node_dlq_and_logs(env, sink, unique):
    tag = unique("node-dlq")

    out = run_node("dlq_logs.mjs", {"sink": sink.base, "tag": tag}, env)

    entries = out["entries"]
    assert sorted(e["messageId"] for e in entries) == sorted(out["failing"])
    for entry in entries:
        assert (entry["responseStatus"], entry["responseBody"]) == (500, "status 500")
    ids = [e["dlqId"] for e in entries]
    assert sorted(e["dlqId"] for e in out["byIds"]["messages"]) == sorted(ids[:2])
    assert [e["messageId"] for e in out["byMessage"]["messages"]] == [out["failing"][3]]
    assert out["deletedOne"] == {"deleted": 1}
    assert out["deleteAgain"]["status"] == 404
    assert out["deletedArray"]["deleted"] == 1
    assert out["deletedObject"]["deleted"] == 1
    [retry] = out["retried"]["responses"]
    assert retry["messageId"] not in out["failing"]
    assert [e["messageId"] for e in out["afterRetry"]] == [retry["messageId"]]
    assert out["deletedFilter"]["deleted"] == 1
    assert out["remaining"] == []

    [delivered] = out["delivered"]["logs"]
    assert (delivered["messageId"], delivered["state"]) == (out["ok"]["messageId"], "DELIVERED")
    assert base64.b64decode(delivered["body"]) == b'{"ok":true}'
    assert {e["messageId"] for e in out["byMessageIds"]["logs"]} == {
        out["ok"]["messageId"],
        out["failing"][0],
    }
    first, second = out["firstPage"], out["secondPage"]
    assert len(first["logs"]) == 2
    assert first["cursor"]
    assert len(second["logs"]) == 1
    assert second.get("cursor") is None
    assert {e["state"] for e in first["logs"] + second["logs"]} == {
        "CREATED",
        "ACTIVE",
        "DELIVERED",
    }
    failed = {e["messageId"] for e in out["events"]["logs"]}
    assert set(out["failing"]) | {retry["messageId"]} == failed


def test_node_queues_and_flow_control(env, sink, unique):
    tag, queue, key = unique("node-flow"), unique("node-queue"), unique("node-key")

    out = run_node(
        "queues_flow_control.mjs", {"sink": sink.base, "tag": tag, "queue": queue, "key": key}, env
    )

    created = out["created"]
    assert (created["name"], created["parallelism"], created["paused"]) == (queue, 2, True)
    assert queue in out["listed"]
    assert (out["resumed"], out["paused"]) == (False, True)
    assert out["afterDelete"]["status"] == 404
    info = out["info"]
    assert (info["flowControlKey"], info["parallelismMax"], info["rateMax"]) == (key, 2, 10)
    assert info["ratePeriod"] == 60
    assert out["flowPaused"] is True
    pinned = out["pinned"]
    assert (pinned["parallelismMax"], pinned["rateMax"], pinned["ratePeriod"]) == (4, 7, 30)
    assert (pinned["isPinnedParallelism"], pinned["isPinnedRate"]) == (True, True)
    unpinned = out["unpinned"]
    assert (unpinned["isPinnedParallelism"], unpinned["isPinnedRate"]) == (False, False)
    assert out["global"]["parallelismMax"] > 0
    sink.wait_for(lambda r: r.path == f"/{tag}/flow")


def test_node_filtered_cancel_cancels_every_match_in_one_call(env, sink, unique):
    tag = unique("node-bulk")

    out = run_node("bulk_cancel.mjs", {"sink": sink.base, "tag": tag, "total": 150}, env)

    assert out["first"] == {"cancelled": 150}
    assert out["second"] == {"cancelled": 0}
