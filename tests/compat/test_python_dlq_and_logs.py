"""The official Python SDK (``QStash`` and ``AsyncQStash``) reading Wirepost's dead-letter queue
and logs: list with filters and cursors, get, delete one and many."""

from __future__ import annotations

import asyncio
import time

import pytest
from qstash.errors import QStashError
from qstash.log import LogState

pytestmark = pytest.mark.compat


async def dead_letters(sdk, label: str, count: int, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        page = await sdk.dlq.list(filter={"label": label})
        if len(page.messages) >= count:
            return page.messages
        assert time.monotonic() < deadline, f"{len(page.messages)} of {count} DLQ entries"
        await asyncio.sleep(0.05)


async def logged(sdk, message_id: str, state: LogState, timeout: float = 5.0):
    deadline = time.monotonic() + timeout
    while True:
        page = await sdk.log.list(filter={"message_id": message_id})
        if state in {log.state for log in page.logs}:
            return page.logs
        assert time.monotonic() < deadline, f"{message_id} never logged {state}"
        await asyncio.sleep(0.05)


async def test_dlq_list_get_delete_and_delete_many(sdk, sink, unique):
    label = unique("dlq")
    url = sink.url(f"/status/500/{label}")
    ids = [
        (await sdk.message.publish(url=url, body=f"doomed {n}", retries=0, label=label)).message_id
        for n in range(3)
    ]

    entries = await dead_letters(sdk, label, 3)
    assert sorted(e.message_id for e in entries) == sorted(ids)
    for entry in entries:
        assert entry.dlq_id
        assert (entry.url, entry.response_status, entry.response_body) == (url, 500, "status 500")
        assert (entry.max_retries, entry.label, entry.method) == (0, label, "POST")
        assert entry.response_headers is not None
        assert entry.body is not None
        assert entry.body.startswith("doomed ")

    first = await sdk.dlq.list(count=1, filter={"label": label})
    assert len(first.messages) == 1
    assert first.cursor is not None
    rest = await sdk.dlq.list(cursor=first.cursor, filter={"label": label})
    assert {e.dlq_id for e in first.messages + rest.messages} == {e.dlq_id for e in entries}
    assert rest.cursor is None
    by_message = await sdk.dlq.list(
        filter={"message_id": ids[1], "url": url, "response_status": 500}
    )
    assert [e.message_id for e in by_message.messages] == [ids[1]]

    one = await sdk.dlq.get(entries[0].dlq_id)
    assert (one.dlq_id, one.message_id, one.body) == (
        entries[0].dlq_id,
        entries[0].message_id,
        entries[0].body,
    )
    await sdk.dlq.delete(entries[0].dlq_id)
    with pytest.raises(QStashError, match="404"):
        await sdk.dlq.get(entries[0].dlq_id)
    assert await sdk.dlq.delete_many([e.dlq_id for e in entries]) == 2
    assert (await sdk.dlq.list(filter={"label": label})).messages == []


async def test_log_list_filters_and_pages(sdk, sink, unique):
    label, queue, group = unique("logs"), unique("queue"), unique("group")
    ok_url, bad_url = sink.url("/" + label), sink.url(f"/status/503/{label}")
    await sdk.url_group.upsert_endpoints(group, [{"url": sink.url(f"/{label}/member")}])
    started = int(time.time() * 1000)

    ok = await sdk.message.publish(url=ok_url, body="fine", label=label)
    bad = await sdk.message.publish(url=bad_url, body="broken", retries=0, label=label)
    queued = await sdk.message.enqueue(queue=queue, url=ok_url, body="queued")
    [to_group] = await sdk.message.publish(url_group=group, body="grouped")

    ok_logs = await logged(sdk, ok.message_id, LogState.DELIVERED)
    assert {log.state for log in ok_logs} == {LogState.CREATED, LogState.ACTIVE, LogState.DELIVERED}
    delivered = next(log for log in ok_logs if log.state is LogState.DELIVERED)
    assert (delivered.url, delivered.label, delivered.response_status) == (ok_url, label, 200)
    assert delivered.time >= started
    bad_logs = await logged(sdk, bad.message_id, LogState.FAILED)
    failed = next(log for log in bad_logs if log.state is LogState.FAILED)
    assert failed.error
    await logged(sdk, queued.message_id, LogState.DELIVERED)
    await logged(sdk, to_group.message_id, LogState.DELIVERED)

    both = await sdk.log.list(filter={"message_ids": [ok.message_id, bad.message_id]})
    assert {log.message_id for log in both.logs} == {ok.message_id, bad.message_id}
    labelled = await sdk.log.list(filter={"label": label, "state": LogState.DELIVERED})
    assert [log.message_id for log in labelled.logs] == [ok.message_id]
    by_url = await sdk.log.list(filter={"url": bad_url, "state": LogState.FAILED})
    assert [log.message_id for log in by_url.logs] == [bad.message_id]
    by_queue = await sdk.log.list(filter={"queue": queue})
    assert {(log.message_id, log.queue) for log in by_queue.logs} == {(queued.message_id, queue)}
    by_group = await sdk.log.list(filter={"url_group": group})
    assert {(log.message_id, log.url_group) for log in by_group.logs} == {
        (to_group.message_id, group)
    }
    window = await sdk.log.list(
        filter={"message_id": ok.message_id, "from_time": started, "to_time": delivered.time}
    )
    assert {log.state for log in window.logs} == {log.state for log in ok_logs}
    assert (await sdk.log.list(filter={"schedule_id": unique("scd")})).logs == []

    first = await sdk.log.list(count=2, filter={"message_id": ok.message_id})
    assert len(first.logs) == 2
    assert first.cursor is not None
    rest = await sdk.log.list(cursor=first.cursor, count=2, filter={"message_id": ok.message_id})
    assert len(rest.logs) == 1
    assert rest.cursor is None
    assert [log.time for log in first.logs + rest.logs] == sorted(
        (log.time for log in ok_logs), reverse=True
    )
    await sdk.url_group.delete(group)
