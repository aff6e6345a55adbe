"""``client.schedules``: cron schedules that publish a message on every tick."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Unpack

from . import fields as f
from .call import Call, ignore, segment
from .fields import wire
from .operation import M, Namespace, Operation
from .options import ScheduleOptions, schedule_headers
from .publishing import as_json, body_bytes
from .results import DeliverySettings

# ruff: noqa: RUF009 - wire() returns dataclasses.field(...), as config.py's _setting does


@dataclass(frozen=True, kw_only=True)
class Schedule(DeliverySettings):
    """A schedule (§12.4). ``delay`` and ``timeout`` are seconds; ``last_states`` maps the
    message ids of the last tick to IN_PROGRESS, SUCCESS or FAIL."""

    schedule_id: str = wire("scheduleId")
    destination: str = wire("destination")
    cron: str = wire("cron")
    created_at: datetime = wire("createdAt", f.millis)
    retries: int = wire("retries", f.number)
    paused: bool = wire("isPaused", f.flag)
    delay: int | None = wire("delay", f.opt_number)
    timeout: int | None = wire("timeout", f.opt_number)
    last_schedule_time: datetime | None = wire("lastScheduleTime", f.opt_millis)
    next_schedule_time: datetime | None = wire("nextScheduleTime", f.opt_millis)
    last_states: Mapping[str, str] = wire("lastScheduleStates", f.strings)
    error: str | None = wire("error", f.opt_text)


def _schedule_id(data: Any) -> str:
    return f.text(f.obj(data), "scheduleId")


def create_schedule(
    destination: str, body: str | bytes = b"", *, cron: str, **options: Unpack[ScheduleOptions]
) -> Call[str]:
    """Publish ``body`` to ``destination`` (a URL or URL-group name) on every ``cron`` tick
    (five fields, UTC unless prefixed ``CRON_TZ=<zone> ``); returns the schedule id. With
    ``schedule_id`` it creates or overwrites that schedule, and is safe to repeat."""
    if not destination:
        raise ValueError("destination must be a URL or a URL-group name")
    return Call(
        "POST",
        f"/v2/schedules/{destination}",
        _schedule_id,
        headers=schedule_headers(cron, options),
        content=body_bytes(body),
        replayable="schedule_id" in options,
    )


def create_json_schedule(
    destination: str, body: object, *, cron: str, **options: Unpack[ScheduleOptions]
) -> Call[str]:
    """``create`` with ``body`` serialised as JSON and ``Content-Type: application/json``."""
    content, with_type = as_json(body, options)
    return create_schedule(destination, content, cron=cron, **with_type)


def _path(schedule_id: str, action: str = "") -> str:
    return f"/v2/schedules/{segment('schedule_id', schedule_id)}{action}"


def get_schedule(schedule_id: str) -> Call[Schedule]:
    """One schedule (404 if there is none with that id)."""
    return Call("GET", _path(schedule_id), Schedule.from_json)


def list_schedules() -> Call[list[Schedule]]:
    """Every schedule."""
    return Call("GET", "/v2/schedules", Schedule.list_from_json)


def delete_schedule(schedule_id: str) -> Call[None]:
    """Delete a schedule (no error if it does not exist)."""
    return Call("DELETE", _path(schedule_id), ignore)


def pause_schedule(schedule_id: str) -> Call[None]:
    """Skip the schedule's ticks until it is resumed."""
    return Call("PATCH", _path(schedule_id, "/pause"), ignore)


def resume_schedule(schedule_id: str) -> Call[None]:
    """Let a paused schedule fire again."""
    return Call("PATCH", _path(schedule_id, "/resume"), ignore)


class Schedules(Namespace[M]):
    create = Operation(create_schedule)
    create_json = Operation(create_json_schedule)
    get = Operation(get_schedule)
    list = Operation(list_schedules)
    delete = Operation(delete_schedule)
    pause = Operation(pause_schedule)
    resume = Operation(resume_schedule)
