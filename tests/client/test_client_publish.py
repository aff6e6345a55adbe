"""Publish, enqueue and batch through both clients, checked against what the server stored."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from tests.client.conftest import unless_endpoint_missing
from wirepost_client import Endpoint, FlowControl, Published, WirepostError

HOOK = "http://127.0.0.1:9/hook"
OTHER = "http://127.0.0.1:9/other"


async def test_publish_stores_the_body_and_answers_its_message_id(wp):
    published = await wp.publish(HOOK, b"\x00\xffraw")

    assert isinstance(published, Published)
    assert not published.url_group
    assert published.messages[0].url == HOOK
    assert published.message_id.startswith("msg_")
    message = await wp.messages.get(published.message_id)
    assert message.url == HOOK
    assert message.body == b"\x00\xffraw"
    assert message.method == "POST"


async def test_publish_sends_every_option_as_its_header(wp):
    published = await wp.publish(
        HOOK,
        "text body",
        headers={"X-Trace": "t1", "Content-Type": "text/plain", "Upstash-Label": "ignored"},
        delay="90s",
        retries=2,
        retry_delay="1000 * (1 + retried)",
        timeout=timedelta(seconds=30),
        method="put",
        callback="http://127.0.0.1:9/cb",
        failure_callback="http://127.0.0.1:9/failed",
        label=["billing", "eu"],
        flow_control=FlowControl("tenant-1", parallelism=2, rate=10, period="1m"),
    )

    message = await wp.messages.get(published.message_id)
    assert message.body == b"text body"
    assert message.headers["X-Trace"] == ("t1",)
    assert message.headers["Content-Type"] == ("text/plain",)
    assert message.not_before - message.created_at == timedelta(seconds=90)
    assert message.max_retries == 2
    assert message.retry_delay == "1000 * (1 + retried)"
    assert message.timeout_ms == 30_000
    assert message.method == "PUT"
    assert message.callback == "http://127.0.0.1:9/cb"
    assert message.failure_callback == "http://127.0.0.1:9/failed"
    assert message.labels == ("billing", "eu")
    assert (message.flow_control_key, message.parallelism, message.rate, message.period) == (
        "tenant-1",
        2,
        10,
        60,
    )


async def test_publish_not_before_takes_a_datetime_or_unix_seconds(wp, clock):
    at = clock.now().replace(microsecond=0) + timedelta(days=3)

    first = await wp.publish(HOOK, "a", not_before=at)
    second = await wp.publish(HOOK, "b", not_before=int(at.timestamp()) + 60)

    assert (await wp.messages.get(first.message_id)).not_before == at
    assert (await wp.messages.get(second.message_id)).not_before == at + timedelta(seconds=60)


async def test_publish_json_serialises_the_body_and_sets_the_content_type(wp):
    published = await wp.publish_json(HOOK, {"hello": ["world", 1]})

    message = await wp.messages.get(published.message_id)
    assert json.loads(message.body) == {"hello": ["world", 1]}
    assert message.headers["Content-Type"] == ("application/json",)


async def test_publish_with_the_same_deduplication_id_is_stored_once(wp):
    first = await wp.publish(HOOK, "x", deduplication_id="order-17")
    second = await wp.publish(HOOK, "y", deduplication_id="order-17")

    assert not first.deduplicated
    assert second.deduplicated
    assert second.message_id == first.message_id


async def test_publish_content_based_deduplication_drops_an_identical_message(wp):
    first = await wp.publish(HOOK, "same", content_based_deduplication=True)
    again = await wp.publish(HOOK, "same", content_based_deduplication=True)
    other = await wp.publish(HOOK, "different", content_based_deduplication=True)

    assert again.deduplicated
    assert again.message_id == first.message_id
    assert not other.deduplicated


async def test_publish_idempotent_ids_differ_per_call_so_equal_publishes_both_count(wp):
    first = await wp.publish(HOOK, "same")
    second = await wp.publish(HOOK, "same")

    assert not second.deduplicated
    assert first.message_id != second.message_id


async def test_publish_to_a_url_group_answers_one_message_per_endpoint(wp):
    with unless_endpoint_missing("URL group"):
        await wp.url_groups.upsert_endpoints("fan", [Endpoint(HOOK, "a"), OTHER])
        published = await wp.publish("fan", "to all")

    assert published.url_group
    assert sorted(m.url for m in published.messages) == [HOOK, OTHER]
    with pytest.raises(ValueError, match=r"read \.messages"):
        _ = published.message_id
    for item in published.messages:
        message = await wp.messages.get(item.message_id)
        assert (message.url_group, message.body) == ("fan", b"to all")


async def test_enqueue_puts_the_message_into_the_queue(wp):
    published = await wp.enqueue("orders", HOOK, "first")
    published_json = await wp.enqueue_json("orders", HOOK, {"n": 2})

    assert (await wp.messages.get(published.message_id)).queue == "orders"
    second = await wp.messages.get(published_json.message_id)
    assert (second.queue, json.loads(second.body)) == ("orders", {"n": 2})
    queue = await wp.queues.get("orders")
    assert queue.lag == 2


async def test_batch_answers_aligned_with_its_items(wp):
    with unless_endpoint_missing("batch"):
        await wp.url_groups.upsert_endpoints("pair", [HOOK, OTHER])
        answers = await wp.batch(
            [
                {"destination": HOOK, "body": "one", "delay": 60},
                {"destination": "pair", "body": b"two"},
                {"destination": HOOK, "body": "three", "queue": "batched"},
            ]
        )

    assert [a.url_group for a in answers] == [False, True, False]
    assert len(answers[1].messages) == 2
    first = await wp.messages.get(answers[0].message_id)
    assert (first.body, first.not_before - first.created_at) == (b"one", timedelta(seconds=60))
    third = await wp.messages.get(answers[2].message_id)
    assert (third.body, third.queue) == (b"three", "batched")


async def test_batch_json_serialises_each_body(wp):
    with unless_endpoint_missing("batch"):
        [answer] = await wp.batch_json([{"destination": HOOK, "body": {"k": [1, 2]}}])

    message = await wp.messages.get(answer.message_id)
    assert json.loads(message.body) == {"k": [1, 2]}
    assert message.headers["Content-Type"] == ("application/json",)


async def test_batch_refuses_a_binary_body(wp):
    with pytest.raises(ValueError, match="UTF-8"):
        await wp.batch([{"destination": HOOK, "body": b"\xff"}])


async def test_batch_item_refused_by_the_server_is_a_400_naming_the_item(wp, pool):
    with unless_endpoint_missing("batch"), pytest.raises(WirepostError) as caught:
        await wp.batch([{"destination": HOOK}, {"destination": "ftp://127.0.0.1/x"}])

    assert caught.value.status == 400
    assert "batch item 1" in caught.value.message
    assert await pool.fetchval("SELECT count(*) FROM messages") == 0


async def test_publish_binary_body_round_trips(wp):
    body = bytes(range(256))
    published = await wp.publish(HOOK, body)

    assert (await wp.messages.get(published.message_id)).body == body
