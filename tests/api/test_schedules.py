"""``/v2/schedules``: create or overwrite, read, list, delete, pause/resume, and the wire shape."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from tests.api.conftest import AUTH, MakeApi, raw_request
from wirepost import cron
from wirepost.api import schedules as schedules_api
from wirepost.clock import FixedClock, to_millis
from wirepost.config import Settings
from wirepost.domain import Endpoint
from wirepost.scheduler.loop import ScheduleLoop
from wirepost.store import url_groups

Client = TestClient[Any, Any]
HOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
async def api(make_api: MakeApi) -> Client:
    return await make_api(run_scheduler=False)


async def create(
    client: Client,
    destination: str = HOOK,
    *,
    cron_expression: str | None = "*/5 * * * *",
    headers: dict[str, str] | None = None,
    body: bytes = b'{"hello":"world"}',
    expect: int = 200,
) -> dict[str, Any]:
    sent = {**AUTH, **(headers or {})}
    if cron_expression is not None:
        sent["Upstash-Cron"] = cron_expression
    response = await raw_request(
        client, "POST", "/v2/schedules/" + destination, headers=sent, data=body
    )
    payload = await response.json()
    assert response.status == expect, payload
    return payload  # type: ignore[no-any-return]


async def get(client: Client, path: str, expect: int = 200) -> Any:
    response = await raw_request(client, "GET", path, headers=AUTH)
    payload = await response.json()
    assert response.status == expect, payload
    return payload


async def call(client: Client, method: str, path: str) -> int:
    response = await raw_request(client, method, path, headers=AUTH)
    await response.read()
    return response.status


async def test_create_answers_a_generated_id_and_get_shows_the_schedule(
    api: Client, clock: FixedClock
):
    created = await create(api, headers={"Content-Type": "application/json"})
    schedule_id = created["scheduleId"]
    assert schedule_id.startswith("scd_")
    shown = await get(api, f"/v2/schedules/{schedule_id}")
    assert shown == {
        "scheduleId": schedule_id,
        "destination": HOOK,
        "cron": "*/5 * * * *",
        "createdAt": to_millis(clock.now()),
        "method": "POST",
        "retries": 3,
        "isPaused": False,
        "header": {"Content-Type": ["application/json"]},
        "body": '{"hello":"world"}',
        "callerIP": "127.0.0.1",
        "callerIp": "127.0.0.1",
        "nextScheduleTime": to_millis(cron.next_fire(cron.parse_cron("*/5 * * * *"), clock.now())),
    }


async def test_create_keeps_every_publish_setting(api: Client):
    headers = {
        "Upstash-Schedule-Id": "nightly.report_1",
        "Upstash-Method": "PUT",
        "Upstash-Retries": "1",
        "Upstash-Delay": "1m30s",
        "Upstash-Timeout": "5s",
        "Upstash-Retry-Delay": "1000 * (1 + retried)",
        "Upstash-Forward-X-Team": "blue",
        "Upstash-Callback": "http://127.0.0.1:9/cb",
        "Upstash-Failure-Callback": "http://127.0.0.1:9/fail",
        "Upstash-Label": "reports",
        "Upstash-Queue-Name": "reports-q",
    }
    expression = "CRON_TZ=Europe/Berlin 0 3 * * mon-fri"
    created = await create(api, cron_expression=expression, headers=headers)
    assert created == {"scheduleId": "nightly.report_1"}
    shown = await get(api, "/v2/schedules/nightly.report_1")
    assert shown["cron"] == expression
    assert shown["method"] == "PUT"
    assert shown["retries"] == 1
    assert shown["delay"] == 90
    assert shown["timeout"] == 5
    assert shown["retryDelayExpression"] == "1000 * (1 + retried)"
    assert shown["header"]["X-Team"] == ["blue"]
    assert shown["callback"] == "http://127.0.0.1:9/cb"
    assert shown["failureCallback"] == "http://127.0.0.1:9/fail"
    assert (shown["label"], shown["labels"]) == ("reports", ["reports"])
    assert shown["queueName"] == "reports-q"


async def test_destination_is_the_raw_target_minus_control_parameters(api: Client):
    target = "http://127.0.0.1:9/a%2Fb?x=1&qstash_token=secret&upstash-retries=0"
    schedule_id = (await create(api, target))["scheduleId"]
    shown = await get(api, f"/v2/schedules/{schedule_id}")
    assert shown["destination"] == "http://127.0.0.1:9/a%2Fb?x=1"
    assert shown["retries"] == 0


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        (None, "Upstash-Cron is required"),
        ("*/5 * * *", "Upstash-Cron"),
        ("61 * * * *", "Upstash-Cron"),
        ("CRON_TZ=Mars/Olympus 0 3 * * *", "time zone"),
    ],
)
async def test_create_rejects_a_missing_or_invalid_cron(
    api: Client, expression: str | None, fragment: str
):
    payload = await create(api, cron_expression=expression, expect=400)
    assert fragment in payload["error"]


@pytest.mark.parametrize(
    ("headers", "fragment"),
    [
        ({"Upstash-Schedule-Id": "bad id!"}, "Upstash-Schedule-Id"),
        ({"Upstash-Queue-Name": "no/slashes"}, "Upstash-Queue-Name"),
        ({"Upstash-Delay": "soon"}, "Upstash-Delay"),
        ({"Upstash-Retries": "lots"}, "Upstash-Retries"),
    ],
)
async def test_create_rejects_bad_headers(api: Client, headers: dict[str, str], fragment: str):
    payload = await create(api, headers=headers, expect=400)
    assert fragment in payload["error"]


@pytest.mark.parametrize(
    ("destination", "status"),
    [("ftp://127.0.0.1/x", 400), ("http://10.0.0.1/x", 400), ("no-such-group", 404)],
)
async def test_create_rejects_bad_destinations(api: Client, destination: str, status: int):
    payload = await create(api, destination, expect=status)
    assert payload["error"]


async def test_create_to_a_url_group_keeps_the_group_name(
    api: Client, pool: asyncpg.Pool, clock: FixedClock
):
    await url_groups.upsert_endpoints(
        pool, "team", [Endpoint(HOOK)], now=clock.now(), max_endpoints=10
    )
    schedule_id = (await create(api, "team"))["scheduleId"]
    assert (await get(api, f"/v2/schedules/{schedule_id}"))["destination"] == "team"


async def test_same_id_overwrites_and_keeps_created_at(api: Client, clock: FixedClock):
    first_at = clock.now()
    await create(api, headers={"Upstash-Schedule-Id": "job"})
    clock.advance(timedelta(hours=1))
    await create(
        api,
        "http://127.0.0.1:9/v2",
        cron_expression="0 * * * *",
        headers={"Upstash-Schedule-Id": "job"},
        body=b"second",
    )
    [shown] = await get(api, "/v2/schedules")
    assert shown["scheduleId"] == "job"
    assert shown["createdAt"] == to_millis(first_at)
    assert (shown["destination"], shown["cron"], shown["body"]) == (
        "http://127.0.0.1:9/v2",
        "0 * * * *",
        "second",
    )


async def test_list_returns_every_schedule_as_an_array(api: Client, clock: FixedClock):
    ids = []
    for _ in range(3):
        ids.append((await create(api))["scheduleId"])
        clock.advance(timedelta(seconds=1))  # listed oldest first
    assert [s["scheduleId"] for s in await get(api, "/v2/schedules")] == ids
    assert [s["scheduleId"] for s in await get(api, "/v2/schedules/")] == ids


async def test_get_unknown_schedule_is_404_json(api: Client):
    payload = await get(api, "/v2/schedules/scd_missing", expect=404)
    assert "scd_missing" in payload["error"]


async def test_delete_removes_the_schedule_and_is_idempotent(api: Client):
    schedule_id = (await create(api))["scheduleId"]
    assert await call(api, "DELETE", f"/v2/schedules/{schedule_id}") == 200
    await get(api, f"/v2/schedules/{schedule_id}", expect=404)
    assert await call(api, "DELETE", f"/v2/schedules/{schedule_id}") == 200


@pytest.mark.parametrize("method", ["PATCH", "POST"])
async def test_pause_and_resume_are_idempotent(api: Client, method: str):
    schedule_id = (await create(api))["scheduleId"]
    for action, paused in (("pause", True), ("pause", True), ("resume", False), ("resume", False)):
        assert await call(api, method, f"/v2/schedules/{schedule_id}/{action}") == 200
        assert (await get(api, f"/v2/schedules/{schedule_id}"))["isPaused"] is paused


@pytest.mark.parametrize("method", ["PATCH", "POST"])
async def test_pause_unknown_schedule_is_404(api: Client, method: str):
    assert await call(api, method, "/v2/schedules/scd_missing/pause") == 404
    assert await call(api, method, "/v2/schedules/scd_missing/resume") == 404


async def test_a_url_ending_in_pause_is_a_destination_not_an_action(api: Client):
    schedule_id = (await create(api, "http://127.0.0.1:9/pause"))["scheduleId"]
    shown = await get(api, f"/v2/schedules/{schedule_id}")
    assert (shown["destination"], shown["isPaused"]) == ("http://127.0.0.1:9/pause", False)


async def test_go_sdk_capital_s_paths_work(api: Client):
    response = await raw_request(
        api,
        "POST",
        "/v2/Schedules/" + HOOK,
        headers={**AUTH, "Upstash-Cron": "* * * * *"},
        data=b"go",
    )
    schedule_id = (await response.json())["scheduleId"]
    assert (await get(api, f"/v2/Schedules/{schedule_id}"))["body"] == "go"


async def test_the_number_of_schedules_is_bounded(api: Client, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(schedules_api, "MAX_SCHEDULES", 2)
    await create(api, headers={"Upstash-Schedule-Id": "one"})
    await create(api, headers={"Upstash-Schedule-Id": "two"})
    payload = await create(api, headers={"Upstash-Schedule-Id": "three"}, expect=412)
    assert "2 schedules" in payload["error"]
    await create(api, headers={"Upstash-Schedule-Id": "two"})  # overwriting is still fine


async def test_binary_body_is_shown_as_base64(api: Client):
    body = b"\xff\x00\xfe"
    schedule_id = (await create(api, body=body))["scheduleId"]
    shown = await get(api, f"/v2/schedules/{schedule_id}")
    assert "body" not in shown
    assert shown["bodyBase64"] == base64.b64encode(body).decode()


async def test_get_after_a_tick_shows_last_time_and_states(
    api: Client, pool: asyncpg.Pool, settings: Settings, clock: FixedClock
):
    schedule_id = (await create(api, cron_expression="* * * * *"))["scheduleId"]
    created = await get(api, f"/v2/schedules/{schedule_id}")
    tick = clock.advance(timedelta(minutes=1))
    assert await ScheduleLoop(settings, pool, clock, None).run_once(tick) == 1
    shown = await get(api, f"/v2/schedules/{schedule_id}")
    assert shown["lastScheduleTime"] == to_millis(tick)
    assert shown["nextScheduleTime"] > created["nextScheduleTime"]
    [(message_id, state)] = shown["lastScheduleStates"].items()
    assert message_id.startswith("msg_")
    assert state == "IN_PROGRESS"
    assert "error" not in shown


async def test_flow_control_and_redaction_show_as_for_messages(api: Client):
    headers = {
        "Upstash-Flow-Control-Key": "partner-api",
        "Upstash-Flow-Control-Value": "parallelism=2, rate=10, period=1m",
        "Upstash-Redact-Fields": "body,header[X-Secret]",
        "Upstash-Forward-X-Secret": "hunter2",
        "Upstash-Forward-X-Plain": "visible",
    }
    schedule_id = (await create(api, headers=headers, body=b"private"))["scheduleId"]
    shown = await get(api, f"/v2/schedules/{schedule_id}")
    assert (shown["flowControlKey"], shown["parallelism"], shown["rate"], shown["period"]) == (
        "partner-api",
        2,
        10,
        60,
    )
    assert shown["body"].startswith("REDACTED:")
    assert shown["header"]["X-Secret"][0].startswith("REDACTED:")
    assert shown["header"]["X-Plain"] == ["visible"]


async def test_queue_and_flow_control_key_cannot_be_combined(api: Client):
    headers = {
        "Upstash-Queue-Name": "q",
        "Upstash-Flow-Control-Key": "k",
        "Upstash-Flow-Control-Value": "parallelism=1",
    }
    payload = await create(api, headers=headers, expect=400)
    assert "Upstash-Queue-Name" in payload["error"]
