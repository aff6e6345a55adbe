"""GET /v2/events (key ``events``, ``CANCELED``) and GET /v2/logs (key ``logs``, ``CANCELLED``):
filters, order, digit cursors, and 400s for bad query values."""

from __future__ import annotations

import base64
import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from tests.api.conftest import AUTH, LEASE, publish
from wirepost.clock import to_millis
from wirepost.domain import Delivered, Response, RetryLater
from wirepost.store import deliveries

DEST_A = "http://127.0.0.1:9/a"
DEST_B = "http://127.0.0.1:9/b"
DEST_C = "http://127.0.0.1:9/c"
STEP = timedelta(seconds=10)
# What the Python SDK's LogState enum accepts (anything else raises ValueError there).
PY_LOG_STATES = {
    "CREATED",
    "ACTIVE",
    "RETRY",
    "ERROR",
    "DELIVERED",
    "FAILED",
    "CANCEL_REQUESTED",
    "CANCELED",
    "IN_PROGRESS",
}


@dataclass(frozen=True)
class History:
    """A delivered (a), a retrying (b) and a cancelled (c) message; ten events over t0..t3."""

    a: str
    b: str
    c: str
    t: tuple[datetime, datetime, datetime, datetime]


@pytest.fixture
async def history(api, pool, clock) -> History:
    # Sub-millisecond digits make the inclusive fromDate/toDate bounds a real test.
    clock.set(clock.now().replace(microsecond=123_456))
    t0 = clock.now()
    t1, t2, t3 = t0 + STEP, t0 + 2 * STEP, t0 + 3 * STEP
    body = b'{"n":1}'
    a = (await publish(api, DEST_A, body=body, headers={"Upstash-Label": "alpha"}))["messageId"]
    b = (await publish(api, DEST_B, body=body, headers={"Upstash-Label": "beta"}))["messageId"]
    c = (await publish(api, DEST_C, body=body, headers={"Upstash-Delay": "1h"}))["messageId"]
    claimed = {
        c.message.id: c for c in await deliveries.claim_due(pool, limit=10, lease=LEASE, now=t1)
    }
    assert set(claimed) == {a, b}
    response = Response(503, {"Retry-After": ["30"]}, b"busy")
    await deliveries.complete_many(
        pool,
        [
            (claimed[a], Delivered(Response(200, {}, b"ok"))),
            (claimed[b], RetryLater(t2 + timedelta(minutes=1), "HTTP 503", response)),
        ],
        now=t2,
    )
    clock.set(t3)
    cancelled = await api.delete(f"/v2/messages/{c}", headers=AUTH)
    assert cancelled.status == 200
    return History(a, b, c, (t0, t1, t2, t3))


async def get_json(api, path: str, status: int = 200) -> dict:
    response = await api.get(path, headers=AUTH)
    payload = await response.json()
    assert response.status == status, payload
    return payload


async def states_of(api, query: str, key: str = "events") -> list[tuple[str, str]]:
    payload = await get_json(api, f"/v2/{key}?{query}")
    assert "cursor" not in payload
    return [(e["messageId"], e["state"]) for e in payload[key]]


async def test_events_lists_every_transition_latest_first(api, history):
    payload = await get_json(api, "/v2/events")
    assert set(payload) == {"events"}
    events = payload["events"]
    assert len(events) == 10
    # In the order they were recorded: an attempt's ACTIVE (logged with its outcome, at the
    # time the attempt began) comes right after its outcome, newest first.
    outcomes = [e["time"] for e in events if e["state"] != "ACTIVE"]
    assert outcomes == sorted(outcomes, reverse=True)
    for newer, active in itertools.pairwise(events):
        if active["state"] == "ACTIVE":
            assert newer["messageId"] == active["messageId"]
            assert newer["state"] in {"DELIVERED", "ERROR"}
            assert active["time"] == to_millis(history.t[1]) < newer["time"]
    assert (events[0]["messageId"], events[0]["state"]) == (history.c, "CANCELED")
    for e in events:
        assert {"time", "messageId", "state", "url"} <= set(e)
        assert e["state"] in PY_LOG_STATES
    by_message = {}
    for e in reversed(events):
        by_message.setdefault(e["messageId"], []).append(e["state"])
    assert by_message == {
        history.a: ["CREATED", "ACTIVE", "DELIVERED"],
        history.b: ["CREATED", "ACTIVE", "ERROR", "RETRY"],
        history.c: ["CREATED", "CANCEL_REQUESTED", "CANCELED"],
    }


async def test_logs_is_the_same_list_with_key_logs_and_cancelled_spelling(api, history):
    events = (await get_json(api, "/v2/events"))["events"]
    payload = await get_json(api, "/v2/logs")
    assert set(payload) == {"logs"}
    logs = payload["logs"]
    assert [e["messageId"] for e in logs] == [e["messageId"] for e in events]
    assert [e["state"] for e in logs] == [
        "CANCELLED" if e["state"] == "CANCELED" else e["state"] for e in events
    ]
    assert "CANCELED" not in {e["state"] for e in logs}


@pytest.mark.parametrize("given", ["CANCELED", "CANCELLED", "canceled"])
async def test_state_filter_accepts_both_cancel_spellings(api, history, given):
    assert await states_of(api, f"state={given}") == [(history.c, "CANCELED")]
    assert await states_of(api, f"state={given}", key="logs") == [(history.c, "CANCELLED")]


async def test_state_filter_in_progress_means_active_retry_error(api, history):
    states = sorted(s for _, s in await states_of(api, "state=IN_PROGRESS"))
    assert states == ["ACTIVE", "ACTIVE", "ERROR", "RETRY"]


async def test_state_filter_takes_several_states(api, history):
    repeated = await states_of(api, "state=DELIVERED&state=RETRY")
    comma = await states_of(api, "state=DELIVERED,RETRY")
    assert sorted(repeated) == sorted([(history.a, "DELIVERED"), (history.b, "RETRY")])
    assert comma == repeated


async def test_message_id_filter(api, history):
    states = await states_of(api, f"messageId={history.a}&order=earliestFirst")
    assert states == [(history.a, "CREATED"), (history.a, "ACTIVE"), (history.a, "DELIVERED")]
    both = await states_of(api, f"messageIds={history.a}&messageIds={history.c}")
    assert {m for m, _ in both} == {history.a, history.c}
    assert len(both) == 6


async def test_url_and_label_filters(api, history):
    by_url = await states_of(api, f"url={DEST_B}")
    assert {m for m, _ in by_url} == {history.b}
    assert len(by_url) == 4
    by_label = await states_of(api, "label=alpha")
    assert {m for m, _ in by_label} == {history.a}
    assert await states_of(api, "label=nothing") == []
    combined = await states_of(api, f"url={DEST_B}&state=ERROR")
    assert combined == [(history.b, "ERROR")]


async def test_date_filters_are_inclusive_milliseconds(api, history):
    _, t1, t2, _ = history.t
    since_t2 = await states_of(api, f"fromDate={to_millis(t2)}")
    assert sorted(s for _, s in since_t2) == sorted(
        ["DELIVERED", "ERROR", "RETRY", "CANCEL_REQUESTED", "CANCELED"]
    )
    until_t1 = await states_of(api, f"toDate={to_millis(t1)}")
    assert sorted(s for _, s in until_t1) == ["ACTIVE", "ACTIVE", "CREATED", "CREATED", "CREATED"]
    only_t1 = await states_of(api, f"fromDate={to_millis(t1)}&toDate={to_millis(t1)}")
    assert [s for _, s in only_t1] == ["ACTIVE", "ACTIVE"]


async def test_a_returned_time_works_as_its_own_date_bound(api, history):
    [entry] = (await get_json(api, f"/v2/events?messageId={history.a}&state=DELIVERED"))["events"]
    assert entry["time"] == to_millis(history.t[2])
    bounded = await states_of(api, f"fromDate={entry['time']}&toDate={entry['time']}")
    assert sorted(bounded) == sorted(
        [(history.a, "DELIVERED"), (history.b, "ERROR"), (history.b, "RETRY")]
    )


async def test_order_earliest_first_reverses_the_list(api, history):
    latest = (await get_json(api, "/v2/events"))["events"]
    earliest = (await get_json(api, "/v2/events?order=earliestFirst"))["events"]
    assert earliest == list(reversed(latest))
    assert (await get_json(api, "/v2/events?order=latestFirst"))["events"] == latest


@pytest.mark.parametrize("order", ["latestFirst", "earliestFirst"])
async def test_digit_cursors_walk_every_page_and_end_without_cursor(api, history, order):
    everything = (await get_json(api, f"/v2/events?order={order}"))["events"]
    seen = []
    pages = 0
    cursor = None
    while True:
        query = f"order={order}&count=3" + (f"&cursor={cursor}" if cursor else "")
        payload = await get_json(api, f"/v2/events?{query}")
        pages += 1
        assert len(payload["events"]) <= 3
        seen.extend(payload["events"])
        if "cursor" not in payload:
            break
        cursor = payload["cursor"]
        assert isinstance(cursor, str)
        assert cursor.isdigit()
    assert pages == 4
    assert seen == everything


async def test_count_limits_the_page(api, history):
    payload = await get_json(api, "/v2/logs?count=4")
    assert len(payload["logs"]) == 4
    assert payload["cursor"].isdigit()
    exact = await get_json(api, "/v2/events?count=10")
    assert len(exact["events"]) == 10
    assert "cursor" not in exact


async def test_entries_carry_bodies_responses_and_next_delivery(api, history):
    events = (await get_json(api, f"/v2/events?messageId={history.b}"))["events"]
    by_state = {e["state"]: e for e in events}
    assert by_state["CREATED"]["body"] == base64.b64encode(b'{"n":1}').decode()
    assert by_state["CREATED"]["label"] == "beta"
    error = by_state["ERROR"]
    assert error["error"] == "HTTP 503"
    assert error["responseStatus"] == 503
    assert error["responseBody"] == base64.b64encode(b"busy").decode()
    assert error["responseHeader"] == {"Retry-After": ["30"]}
    assert error["responseHeaders"] == {"Retry-After": ["30"]}
    retry = by_state["RETRY"]
    assert retry["nextDeliveryTime"] == to_millis(history.t[2] + timedelta(minutes=1))
    assert by_state["ACTIVE"]["time"] == to_millis(history.t[1])


async def test_empty_log_has_an_empty_list(api):
    assert await get_json(api, "/v2/events") == {"events": []}
    assert await get_json(api, "/v2/logs") == {"logs": []}


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("cursor=abc", "cursor"),
        ("cursor=-5", "cursor"),
        ("cursor=1686652644442-12", "cursor"),
        ("count=0", "count"),
        ("count=1001", "count"),
        ("count=ten", "count"),
        ("order=newest", "order"),
        ("fromDate=yesterday", "fromDate"),
        ("toDate=1.5", "toDate"),
        ("state=DONE", "state"),
    ],
)
@pytest.mark.parametrize("path", ["/v2/events", "/v2/logs"])
async def test_bad_query_values_are_400_naming_them(api, path, query, named):
    payload = await get_json(api, f"{path}?{query}", status=400)
    assert set(payload) == {"error"}
    assert named in payload["error"]
