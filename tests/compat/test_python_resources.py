"""The official Python SDK (``QStash`` and ``AsyncQStash``) managing Wirepost's resources: URL
groups, queues, schedules and flow-control keys, each through its whole life cycle."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
from qstash.errors import QStashError
from qstash.message import EnqueueUrlGroupResponse, PublishUrlGroupResponse

from tests.compat.signatures import verify_delivery

pytestmark = pytest.mark.compat

QUIET_SECONDS = 0.8
"""How long a held message must stay undelivered: four poll intervals of the test server."""


async def test_url_group_lifecycle_and_fan_out(sdk, sink, unique):
    keys = await sdk.signing_key.get()
    group, queue, tag = unique("group"), unique("queue"), unique("fan")
    one, two, three = (sink.url(f"/{tag}/{n}") for n in (1, 2, 3))

    await sdk.url_group.upsert_endpoints(group, [{"url": one, "name": "one"}, {"url": two}])
    found = await sdk.url_group.get(group)
    assert found.name == group
    assert [(e.url, e.name) for e in found.endpoints] == [(one, "one"), (two, None)]
    assert found.created_at <= found.updated_at
    assert group in [g.name for g in await sdk.url_group.list()]

    published = await sdk.message.publish(url_group=group, body="to all")
    assert all(isinstance(p, PublishUrlGroupResponse) for p in published)
    assert sorted(p.url for p in published) == [one, two]
    enqueued = await sdk.message.enqueue(queue=queue, url_group=group, body="queued to all")
    assert all(isinstance(e, EnqueueUrlGroupResponse) for e in enqueued)
    delivered = await sink.await_for(lambda got: got.path.startswith(f"/{tag}/"), count=4)
    for got in delivered:
        assert got.headers["Upstash-Topic-Name"] == group
        verify_delivery(got, keys, sink.url(got.path))
    to_one = next(p for p in published if p.url == one)
    message = await sdk.message.get(to_one.message_id)
    assert (message.url_group, message.endpoint, message.url) == (group, "one", one)

    await sdk.url_group.remove_endpoints(group, [{"name": "one"}])
    await sdk.url_group.upsert_endpoints(group, [{"url": three, "name": "three"}])
    assert [e.url for e in (await sdk.url_group.get(group)).endpoints] == [two, three]
    await sdk.url_group.remove_endpoints(group, [{"url": two}, {"url": three}])
    with pytest.raises(QStashError, match="404"):
        await sdk.url_group.get(group)

    await sdk.url_group.upsert_endpoints(group, [{"url": one}])
    await sdk.url_group.delete(group)
    await sdk.url_group.delete(group)  # deleting a missing group is not an error
    assert group not in [g.name for g in await sdk.url_group.list()]


async def test_queue_upsert_get_list_pause_resume_delete(sdk, sink, unique):
    queue, path = unique("queue"), "/" + unique("paused")

    await sdk.queue.upsert(queue, parallelism=2, paused=True)
    found = await sdk.queue.get(queue)
    assert (found.name, found.parallelism, found.paused, found.lag) == (queue, 2, True, 0)

    enqueued = await sdk.message.enqueue(queue=queue, url=sink.url(path), body="waits")
    await asyncio.sleep(QUIET_SECONDS)
    assert sink.received(lambda got: got.path == path) == []
    assert (await sdk.queue.get(queue)).lag == 1
    assert [q.paused for q in await sdk.queue.list() if q.name == queue] == [True]

    await sdk.queue.resume(queue)
    [got] = await sink.await_for(lambda got: got.path == path)
    assert got.headers["Upstash-Message-Id"] == enqueued.message_id
    assert (await sdk.queue.get(queue)).paused is False

    await sdk.queue.pause(queue)
    assert (await sdk.queue.get(queue)).paused is True
    await sdk.queue.upsert(queue, parallelism=1)
    found = await sdk.queue.get(queue)
    assert (found.parallelism, found.paused) == (1, False)
    assert found.created_at <= found.updated_at

    await sdk.queue.delete(queue)
    with pytest.raises(QStashError, match="404"):
        await sdk.queue.get(queue)
    assert queue not in [q.name for q in await sdk.queue.list()]


async def test_schedule_create_get_list_pause_resume_delete(sdk, sink, unique):
    url, callback = sink.url("/" + unique("scheduled")), sink.url("/" + unique("cb"))
    queue, custom_id = unique("queue"), unique("nightly")
    before = int(time.time() * 1000)

    schedule_id = await sdk.schedule.create(
        destination=url,
        cron="*/5 * * * *",
        body="tick",
        content_type="text/plain",
        method="PUT",
        headers={"X-Job": "report"},
        callback_headers={"X-Cb": "1"},
        failure_callback_headers={"X-Failure": "1"},
        retries=2,
        retry_delay="2000",
        callback=callback,
        failure_callback=callback,
        delay="30s",
        timeout=20,
        flow_control={"key": unique("flow"), "parallelism": 2, "rate": 10, "period": 60},
        label="reports",
    )
    assert schedule_id.startswith("scd_")
    created = await sdk.schedule.get(schedule_id)
    assert (created.schedule_id, created.destination, created.cron) == (
        schedule_id,
        url,
        "*/5 * * * *",
    )
    assert (created.method, created.body, created.retries) == ("PUT", "tick", 2)
    assert created.headers is not None
    assert created.headers["X-Job"] == ["report"]
    assert (created.callback, created.failure_callback) == (callback, callback)
    assert created.callback_headers == {"X-Cb": ["1"]}
    assert (created.delay, created.retry_delay_expression, created.label) == (30, "2000", "reports")
    assert created.flow_control is not None
    assert (created.flow_control.parallelism, created.flow_control.rate) == (2, 10)
    assert created.paused is False
    assert created.created_at >= before
    assert created.next_schedule_time is not None
    assert created.next_schedule_time > before

    assert (
        await sdk.schedule.create_json(
            destination=url,
            cron="CRON_TZ=Europe/Berlin 0 9 * * 1-5",
            body={"report": "daily"},
            schedule_id=custom_id,
            queue=queue,
        )
        == custom_id
    )
    queued = await sdk.schedule.get(custom_id)
    assert (queued.queue, queued.cron) == (queue, "CRON_TZ=Europe/Berlin 0 9 * * 1-5")
    assert json.loads(queued.body or "") == {"report": "daily"}
    assert queued.headers is not None
    assert queued.headers["Content-Type"] == ["application/json"]
    await sdk.schedule.create_json(
        destination=url, cron="0 10 * * *", body={}, schedule_id=custom_id
    )
    assert (await sdk.schedule.get(custom_id)).cron == "0 10 * * *"
    listed = {s.schedule_id for s in await sdk.schedule.list()}
    assert {schedule_id, custom_id} <= listed

    await sdk.schedule.pause(schedule_id)
    assert (await sdk.schedule.get(schedule_id)).paused is True
    await sdk.schedule.resume(schedule_id)
    assert (await sdk.schedule.get(schedule_id)).paused is False

    for sid in (schedule_id, custom_id):
        await sdk.schedule.delete(sid)
        with pytest.raises(QStashError, match="404"):
            await sdk.schedule.get(sid)
    assert not {schedule_id, custom_id} & {s.schedule_id for s in await sdk.schedule.list()}


async def test_schedule_rejects_a_bad_cron_with_400(sdk, sink):
    with pytest.raises(QStashError, match="400"):
        await sdk.schedule.create(destination=sink.url("/never"), cron="61 * * * *")


async def test_flow_control_get_pause_resume_pin_unpin_and_reset_rate(sdk, sink, unique):
    key, path = unique("flow"), "/" + unique("flowing")
    url = sink.url(path)
    config = {"key": key, "parallelism": 2, "rate": 10, "period": "1m"}
    await sdk.message.publish(url=url, body="first", flow_control=config)
    await sink.await_for(lambda got: got.path == path)

    info = await sdk.flow_control.get(key)
    assert (info.key, info.parallelism_max, info.rate_max, info.rate_period) == (key, 2, 10, 60)
    assert (info.is_paused, info.is_pinned_parallelism, info.is_pinned_rate) == (False,) * 3

    await sdk.flow_control.pause(key)
    assert (await sdk.flow_control.get(key)).is_paused is True
    await sdk.message.publish(url=url, body="held", flow_control=config)
    await asyncio.sleep(QUIET_SECONDS)
    assert len(sink.received(lambda got: got.path == path)) == 1
    await sdk.flow_control.resume(key)
    await sink.await_for(lambda got: got.path == path, count=2)
    assert (await sdk.flow_control.get(key)).is_paused is False

    await sdk.flow_control.pin(key, {"parallelism": 3, "rate": 5, "period": 30})
    await sdk.message.publish(url=url, body="pinned", flow_control=config)
    info = await sdk.flow_control.get(key)
    assert (info.parallelism_max, info.rate_max, info.rate_period) == (3, 5, 30)
    assert (info.is_pinned_parallelism, info.is_pinned_rate) == (True, True)
    await sdk.flow_control.unpin(key, {"parallelism": True, "rate": False})
    info = await sdk.flow_control.get(key)
    assert (info.is_pinned_parallelism, info.is_pinned_rate) == (False, True)

    await sdk.flow_control.reset_rate(key)
    assert (await sdk.flow_control.get(key)).rate_count == 0
    with pytest.raises(QStashError, match="404"):
        await sdk.flow_control.get(unique("unknown-key"))


async def test_global_parallelism_reports_a_limit(sdk):
    info = await sdk.flow_control.get_global_parallelism()
    assert info.parallelism_max > 0
    assert 0 <= info.parallelism_count <= info.parallelism_max
