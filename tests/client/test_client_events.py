"""``events``: pages, iteration over every page, filters and order."""

from __future__ import annotations

HOOK = "http://127.0.0.1:9/hook"
OTHER = "http://127.0.0.1:9/other"


async def test_events_iterate_follows_the_cursor_through_every_page(wp):
    ids = [(await wp.publish(HOOK, str(i))).message_id for i in range(5)]

    events = await wp.events.iterate(count=2)

    assert sorted(e.message_id for e in events) == sorted(ids)
    assert {e.state for e in events} == {"CREATED"}
    assert len({(e.message_id, e.state) for e in events}) == 5


async def test_events_list_returns_one_page_and_its_cursor(wp):
    for i in range(3):
        await wp.publish(HOOK, str(i))

    first = await wp.events.list(count=2)
    rest = await wp.events.list(count=2, cursor=first.cursor)

    assert len(first.items) == 2
    assert first.cursor is not None
    assert len(rest.items) == 1
    assert rest.cursor is None


async def test_events_order_earliest_reverses_the_default(wp):
    for i in range(3):
        await wp.publish(HOOK, str(i))

    latest = await wp.events.iterate()
    earliest = await wp.events.iterate(order="earliest")

    assert [e.message_id for e in earliest] == [e.message_id for e in reversed(latest)]


async def test_events_filters_by_state_url_and_label(wp):
    kept = (await wp.publish(OTHER, "x", label="keep", delay="1h")).message_id
    await wp.publish(HOOK, "y", label="drop")
    await wp.messages.cancel(kept)

    by_url = await wp.events.iterate(url=OTHER)
    cancelled = await wp.events.iterate(state="CANCELED")
    by_label = await wp.events.iterate(label=["keep", "absent"], state=["CREATED"])

    assert {e.message_id for e in by_url} == {kept}
    assert [(e.message_id, e.state) for e in cancelled] == [(kept, "CANCELED")]
    assert [(e.message_id, e.labels) for e in by_label] == [(kept, ("keep",))]
    assert by_label[0].body == b"x"
