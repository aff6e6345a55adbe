"""The official Python SDK (``QStash`` and ``AsyncQStash``) against a running Wirepost: publish,
enqueue and batch in all their forms, message get/cancel, deduplication, callbacks, errors.
Every delivery is checked at a real receiver with the SDK's own ``Receiver``."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import pytest
from qstash.chat import custom
from qstash.errors import QStashError
from qstash.log import LogState
from qstash.message import (
    BatchResponse,
    BatchUrlGroupResponse,
    EnqueueResponse,
    PublishResponse,
)

from tests.compat.sdk_surface import open_sdk
from tests.compat.signatures import verify_delivery

pytestmark = pytest.mark.compat


def at(path: str):
    return lambda got: got.path == path


async def states_of(sdk, message_id: str) -> set[str]:
    page = await sdk.log.list(filter={"message_id": message_id})
    return {log.state.value for log in page.logs}


async def wait_for_state(sdk, message_id: str, state: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while state not in await states_of(sdk, message_id):
        assert time.monotonic() < deadline, f"{message_id} never reached {state}"
        await asyncio.sleep(0.05)


async def test_publish_delivers_a_signed_request_carrying_every_option(sdk, sink, unique):
    keys = await sdk.signing_key.get()
    path = "/" + unique("publish")
    url = sink.url(path + "?tenant=acme&x=1")

    published = await sdk.message.publish(
        url=url,
        body="hello wirepost",
        content_type="text/plain",
        method="PUT",
        headers={"X-Tenant": "acme"},
        retries=1,
        retry_delay="1000 * (1 + retried)",
        timeout=30,
        label="compat",
    )

    assert isinstance(published, PublishResponse)
    assert published.message_id.startswith("msg_")
    assert published.deduplicated is False
    [got] = await sink.await_for(at(path))
    assert got.method == "PUT"
    assert got.query == "tenant=acme&x=1"
    assert got.body == b"hello wirepost"
    assert got.headers["Content-Type"] == "text/plain"
    assert got.headers["X-Tenant"] == "acme"
    assert got.headers["User-Agent"] == "Upstash-QStash"
    assert got.headers["Upstash-Message-Id"] == published.message_id
    assert got.headers["Upstash-Retried"] == "0"
    assert "Authorization" not in got.headers
    verify_delivery(got, keys, url)

    message = await sdk.message.get(published.message_id)
    assert message.message_id == published.message_id
    assert message.url == url
    assert message.method == "PUT"
    assert message.body == "hello wirepost"
    assert message.headers == {"X-Tenant": ["acme"], "Content-Type": ["text/plain"]}
    assert message.max_retries == 1
    assert message.retry_delay_expression == "1000 * (1 + retried)"
    assert message.label == "compat"
    assert message.created_at <= message.not_before <= int(time.time() * 1000)


async def test_publish_json_to_an_llm_api_provider_forwards_its_token(sdk, sink, unique):
    keys = await sdk.signing_key.get()
    base = sink.url("/" + unique("provider"))

    await sdk.message.publish_json(
        api={"name": "llm", "provider": custom(base, "sk-provider")},
        body={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )

    path = base.removeprefix(sink.base) + "/v1/chat/completions"
    [got] = await sink.await_for(at(path))
    assert got.headers["Authorization"] == "Bearer sk-provider"
    assert got.headers["Content-Type"] == "application/json"
    assert json.loads(got.body)["model"] == "m"
    verify_delivery(got, keys, sink.url(path))


async def test_publish_json_deduplicates_by_id_and_by_content(sdk, sink, unique):
    path = "/" + unique("dedup")
    url = sink.url(path)
    dedup_id = unique("dedup-id")

    first = await sdk.message.publish_json(url=url, body={"n": 1}, deduplication_id=dedup_id)
    again = await sdk.message.publish_json(url=url, body={"n": 9}, deduplication_id=dedup_id)
    by_content = await sdk.message.publish_json(
        url=url, body={"n": 2}, content_based_deduplication=True
    )
    same_content = await sdk.message.publish_json(
        url=url, body={"n": 2}, content_based_deduplication=True
    )

    assert (first.deduplicated, again.deduplicated) == (False, True)
    assert again.message_id == first.message_id
    assert (by_content.deduplicated, same_content.deduplicated) == (False, True)
    assert same_content.message_id == by_content.message_id
    delivered = await sink.await_for(at(path), count=2)
    assert sorted(json.loads(got.body)["n"] for got in delivered) == [1, 2]


async def test_delay_and_not_before_hold_a_message_until_cancelled(sdk, sink, unique):
    path = "/" + unique("held")
    delayed = await sdk.message.publish(url=sink.url(path), body="later", delay="1h")
    not_before = int(time.time()) + 7200
    scheduled = await sdk.message.publish_json(
        url=sink.url(path), body={"at": not_before}, not_before=not_before
    )

    message = await sdk.message.get(delayed.message_id)
    assert abs(message.not_before - message.created_at - 3_600_000) < 1000
    message = await sdk.message.get(scheduled.message_id)
    assert message.not_before == not_before * 1000

    await sdk.message.cancel(delayed.message_id)
    await sdk.message.cancel(scheduled.message_id)
    await wait_for_state(sdk, delayed.message_id, "CANCELED")
    canceled = await sdk.log.list(
        filter={"message_id": scheduled.message_id, "state": LogState.CANCELED}
    )
    assert [log.state for log in canceled.logs] == [LogState.CANCELED]
    with pytest.raises(QStashError, match="404"):
        await sdk.message.cancel(delayed.message_id)
    assert sink.received(at(path)) == []


async def test_cancel_many_and_cancel_all_count_what_they_cancelled(sdk, unique, sink):
    url = sink.url("/" + unique("cancel"))
    ids = [
        (await sdk.message.publish(url=url, body=str(n), delay=3600)).message_id for n in range(3)
    ]

    assert await sdk.message.cancel_many(ids[:2]) == 2
    assert await sdk.message.cancel_many(ids[:2]) == 0
    assert await sdk.message.cancel_all() >= 1
    assert await sdk.message.cancel_all() == 0
    for message_id in ids:
        await wait_for_state(sdk, message_id, "CANCELED")


async def test_enqueue_creates_the_queue_and_delivers_in_order(sdk, sink, unique):
    keys = await sdk.signing_key.get()
    queue = unique("queue")
    path = "/" + unique("fifo")
    url = sink.url(path)

    first = await sdk.message.enqueue(queue=queue, url=url, body="first", content_type="text/plain")
    second = await sdk.message.enqueue_json(
        queue=queue, url=url, body={"n": 2}, deduplication_id=unique("id")
    )
    duplicate = await sdk.message.enqueue_json(
        queue=queue, url=url, body={"n": 2}, content_based_deduplication=True
    )
    same = await sdk.message.enqueue_json(
        queue=queue, url=url, body={"n": 2}, content_based_deduplication=True
    )

    assert isinstance(first, EnqueueResponse)
    assert (second.deduplicated, duplicate.deduplicated, same.deduplicated) == (False, False, True)
    delivered = await sink.await_for(at(path), count=3)
    assert [got.headers["Upstash-Message-Id"] for got in delivered] == [
        first.message_id,
        second.message_id,
        duplicate.message_id,
    ]
    for got in delivered:
        verify_delivery(got, keys, url)
    assert (await sdk.message.get(first.message_id)).queue == queue
    assert (await sdk.queue.get(queue)).parallelism == 1


async def test_batch_and_batch_json_mix_urls_groups_and_queues(sdk, sink, unique):
    keys = await sdk.signing_key.get()
    group, queue, tag = unique("group"), unique("queue"), unique("batch")
    endpoints = [sink.url(f"/{tag}/group/1"), sink.url(f"/{tag}/group/2")]
    await sdk.url_group.upsert_endpoints(group, [{"url": u} for u in endpoints])

    answer = await sdk.message.batch(
        [
            {"url": sink.url(f"/{tag}/url"), "body": "to a url", "headers": {"X-Item": "1"}},
            {"url_group": group, "body": "to a group"},
            {"queue": queue, "url": sink.url(f"/{tag}/queue"), "body": "to a queue"},
        ]
    )
    as_json = await sdk.message.batch_json(
        [{"url": sink.url(f"/{tag}/json"), "body": {"k": 1}, "retries": 0, "label": tag}]
    )

    url_item, group_items, queue_item = answer
    assert isinstance(url_item, BatchResponse)
    assert isinstance(queue_item, BatchResponse)
    assert all(isinstance(item, BatchUrlGroupResponse) for item in group_items)
    assert [item.url for item in group_items] == endpoints
    assert isinstance(as_json[0], BatchResponse)
    delivered = await sink.await_for(lambda got: got.path.startswith(f"/{tag}/"), count=5)
    by_path = {got.path: got for got in delivered}
    assert by_path[f"/{tag}/url"].headers["X-Item"] == "1"
    assert by_path[f"/{tag}/group/1"].headers["Upstash-Topic-Name"] == group
    assert by_path[f"/{tag}/json"].headers["Content-Type"] == "application/json"
    assert json.loads(by_path[f"/{tag}/json"].body) == {"k": 1}
    for path, got in by_path.items():
        verify_delivery(got, keys, sink.url(path))
    assert (await sdk.message.get(queue_item.message_id)).queue == queue
    assert (await sdk.message.get(as_json[0].message_id)).max_retries == 0
    await sdk.url_group.delete(group)


async def test_callbacks_arrive_signed_with_the_delivery_outcome(sdk, sink, unique):
    keys = await sdk.signing_key.get()
    tag = unique("callback")
    ok_url, failing_url = sink.url(f"/{tag}/ok"), sink.url(f"/status/500/{tag}")
    callback_url, failure_url = sink.url(f"/{tag}/cb"), sink.url(f"/{tag}/failure-cb")

    ok = await sdk.message.publish(
        url=ok_url, body="payload", callback=callback_url, callback_headers={"X-Cb": "yes"}
    )
    failing = await sdk.message.publish(
        url=failing_url,
        body="doomed",
        retries=0,
        failure_callback=failure_url,
        failure_callback_headers={"X-Failure": "1"},
    )

    [callback] = await sink.await_for(at(f"/{tag}/cb"))
    verify_delivery(callback, keys, callback_url)
    assert callback.headers["X-Cb"] == "yes"
    outcome = json.loads(callback.body)
    assert outcome["status"] == 200
    assert outcome["sourceMessageId"] == ok.message_id
    assert base64.b64decode(outcome["body"]) == b"ok"
    assert base64.b64decode(outcome["sourceBody"]) == b"payload"
    assert outcome["url"] == ok_url
    assert outcome["retried"] == 0

    [failure] = await sink.await_for(at(f"/{tag}/failure-cb"))
    verify_delivery(failure, keys, failure_url)
    assert failure.headers["X-Failure"] == "1"
    outcome = json.loads(failure.body)
    assert outcome["status"] == 500
    assert outcome["sourceMessageId"] == failing.message_id
    assert outcome["dlqId"]
    assert outcome["retried"] == outcome["maxRetries"] == 0


async def test_errors_reach_the_sdk_as_qstash_errors(sdk, wirepost, unique):
    with pytest.raises(QStashError, match="404"):
        await sdk.message.get("msg_" + unique("missing"))
    with pytest.raises(QStashError, match="400"):
        await sdk.message.publish(url="ftp://example.com/hook", body="x")
    async with open_sdk(wirepost.base_url, flavour=sdk.flavour, token="wrong-token") as intruder:
        with pytest.raises(QStashError, match="401"):
            await intruder.signing_key.get()
