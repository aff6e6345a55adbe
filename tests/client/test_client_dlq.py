"""``dlq``: real deliveries fail (the receiver answers 500, no retries) and land in the DLQ;
then list, iterate, get, delete, delete_many, retry and retry_many."""

from __future__ import annotations

import pytest

from tests.client.conftest import client_for
from tests.conftest import wait_until
from tests.receiver import Reply
from wirepost_client import WirepostError


@pytest.fixture
async def wp(mode, make_api, receiver):
    receiver.default = Reply(status=500, body=b"nope")
    api = await make_api(run_delivery=True, run_scheduler=False)
    async with client_for(mode, str(api.make_url("")).rstrip("/")) as client:
        yield client


async def dead(wp, receiver, paths: list[str], **options) -> list[str]:
    """Publish one message per path with no retries; wait until all are in the DLQ; their ids."""
    ids = [
        (await wp.publish(receiver.url(path), path, retries=0, **options)).message_id
        for path in paths
    ]

    async def all_dead() -> bool:
        return len(await wp.dlq.iterate()) == len(paths)

    await wait_until(all_dead)
    return ids


async def test_dlq_list_shows_the_message_and_the_last_answer(wp, receiver):
    [message_id] = await dead(wp, receiver, ["/a"], label="l1")

    page = await wp.dlq.list()

    assert page.cursor is None
    [entry] = page.items
    assert entry.message.message_id == message_id
    assert entry.message.url == receiver.url("/a")
    assert entry.message.body == b"/a"
    assert entry.message.labels == ("l1",)
    assert entry.response_status == 500
    assert entry.response_body == b"nope"


async def test_dlq_iterate_and_filters(wp, receiver):
    ids = await dead(wp, receiver, ["/a", "/b", "/c"])

    every = await wp.dlq.iterate(count=1)
    by_url = await wp.dlq.iterate(url=receiver.url("/b"))
    by_status = await wp.dlq.iterate(response_status=[404, 500])
    none = await wp.dlq.iterate(response_status=404)
    latest = await wp.dlq.list(order="latest", count=1)

    assert [e.message.message_id for e in every] == ids
    assert [e.message.message_id for e in by_url] == [ids[1]]
    assert len(by_status) == 3
    assert none == []
    assert [e.message.message_id for e in latest.items] == [ids[2]]


async def test_dlq_get_and_delete(wp, receiver):
    await dead(wp, receiver, ["/a", "/b", "/c"])
    entries = await wp.dlq.iterate()

    assert await wp.dlq.get(entries[0].dlq_id) == entries[0]
    await wp.dlq.delete(entries[0].dlq_id)
    with pytest.raises(WirepostError) as caught:
        await wp.dlq.get(entries[0].dlq_id)
    assert caught.value.status == 404
    assert await wp.dlq.delete_many([entries[1].dlq_id, entries[0].dlq_id]) == 1
    assert [e.dlq_id for e in await wp.dlq.iterate()] == [entries[2].dlq_id]


async def test_dlq_retry_publishes_a_new_message_and_removes_the_entry(wp, receiver):
    [old_id] = await dead(wp, receiver, ["/a"])
    [entry] = await wp.dlq.iterate()

    new_id = await wp.dlq.retry(entry.dlq_id)

    assert new_id != old_id
    retried = await wp.messages.get(new_id)
    assert (retried.url, retried.body) == (receiver.url("/a"), b"/a")
    with pytest.raises(WirepostError) as caught:
        await wp.dlq.retry(entry.dlq_id)
    assert caught.value.status == 404


async def test_dlq_retry_many_answers_one_new_id_per_existing_entry(wp, receiver):
    await dead(wp, receiver, ["/a", "/b"])
    entries = await wp.dlq.iterate()

    new_ids = await wp.dlq.retry_many([e.dlq_id for e in entries] + ["999999"])

    assert len(new_ids) == 2
    assert {(await wp.messages.get(i)).url for i in new_ids} == {
        receiver.url("/a"),
        receiver.url("/b"),
    }
