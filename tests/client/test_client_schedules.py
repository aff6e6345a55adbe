"""``schedules``: create (and overwrite), get, list, pause, resume, delete."""

from __future__ import annotations

import json

import pytest

from tests.client.conftest import unless_endpoint_missing
from wirepost_client import WirepostError

HOOK = "http://127.0.0.1:9/hook"


async def test_schedules_create_then_get_shows_the_settings(wp):
    with unless_endpoint_missing("schedules"):
        schedule_id = await wp.schedules.create(
            HOOK, "tick", cron="*/5 * * * *", delay=30, retries=1, label="nightly"
        )
        schedule = await wp.schedules.get(schedule_id)

    assert schedule_id.startswith("scd_")
    assert (schedule.schedule_id, schedule.destination, schedule.cron) == (
        schedule_id,
        HOOK,
        "*/5 * * * *",
    )
    assert (schedule.body, schedule.delay, schedule.retries) == (b"tick", 30, 1)
    assert schedule.labels == ("nightly",)
    assert not schedule.paused
    assert schedule.next_schedule_time is not None
    assert schedule.last_schedule_time is None


async def test_schedules_create_with_an_id_overwrites_that_schedule(wp):
    with unless_endpoint_missing("schedules"):
        first = await wp.schedules.create(HOOK, cron="0 * * * *", schedule_id="hourly")
        again = await wp.schedules.create_json(
            HOOK, {"v": 2}, cron="30 * * * *", schedule_id="hourly", queue="q1"
        )
        schedules = await wp.schedules.list()

    assert first == again == "hourly"
    [schedule] = schedules
    assert schedule.cron == "30 * * * *"
    assert json.loads(schedule.body) == {"v": 2}
    assert schedule.headers["Content-Type"] == ("application/json",)
    assert schedule.queue == "q1"


async def test_schedules_pause_resume_and_delete(wp):
    with unless_endpoint_missing("schedules"):
        schedule_id = await wp.schedules.create(HOOK, cron="* * * * *")
        await wp.schedules.pause(schedule_id)
        paused = await wp.schedules.get(schedule_id)
        await wp.schedules.resume(schedule_id)
        resumed = await wp.schedules.get(schedule_id)
        await wp.schedules.delete(schedule_id)
        await wp.schedules.delete(schedule_id)  # no error for a missing schedule
        with pytest.raises(WirepostError) as caught:
            await wp.schedules.get(schedule_id)

    assert (paused.paused, resumed.paused) == (True, False)
    assert caught.value.status == 404
    assert await wp.schedules.list() == []


async def test_schedules_refuse_a_bad_cron_with_the_servers_reason(wp):
    with unless_endpoint_missing("schedules"), pytest.raises(WirepostError) as caught:
        await wp.schedules.create(HOOK, cron="every day")

    assert caught.value.status == 400
    assert "Upstash-Cron" in caught.value.message
