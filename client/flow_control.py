"""``client.flow_control``: inspect and steer flow-control keys (parallelism and rate limits
shared by every message that names the key)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from . import fields as f
from .call import Call, ignore, segment
from .durations import whole_seconds
from .fields import FromJson, wire
from .operation import M, Namespace, Operation

# ruff: noqa: RUF009 - wire() returns dataclasses.field(...), as config.py's _setting does


@dataclass(frozen=True, kw_only=True)
class FlowControlInfo(FromJson):
    """A key's limits and state: messages waiting, in flight, started in this rate period."""

    key: str = wire("flowControlKey")
    wait_list_size: int = wire("waitListSize", f.count)
    parallelism_max: int = wire("parallelismMax", f.count)
    parallelism_count: int = wire("parallelismCount", f.count)
    rate_max: int = wire("rateMax", f.count)
    rate_count: int = wire("rateCount", f.count)
    rate_period: int = wire("ratePeriod", f.count)
    rate_period_start: datetime | None = wire("ratePeriodStart", f.opt_seconds_time)
    paused: bool = wire("isPaused", f.flag)
    pinned_parallelism: bool = wire("isPinnedParallelism", f.flag)
    pinned_rate: bool = wire("isPinnedRate", f.flag)


@dataclass(frozen=True, kw_only=True)
class GlobalParallelism(FromJson):
    """Deliveries the server may run at once, and how many are running."""

    parallelism_max: int = wire("parallelismMax", f.count)
    parallelism_count: int = wire("parallelismCount", f.count)


def _path(key: str, action: str = "") -> str:
    return f"/v2/flowControl/{segment('flow-control key', key)}{action}"


def get_flow_control(key: str) -> Call[FlowControlInfo]:
    """One key (404 until a message has used it)."""
    return Call("GET", _path(key), FlowControlInfo.from_json)


def list_flow_controls(search: str | None = None) -> Call[list[FlowControlInfo]]:
    """Every key, or those whose name contains ``search``."""
    params = [("search", search)] if search else []
    return Call("GET", "/v2/flowControl", FlowControlInfo.list_from_json, params=params)


def pause_flow_control(key: str) -> Call[None]:
    """Hold the key's messages in its wait list."""
    return Call("POST", _path(key, "/pause"), ignore)


def resume_flow_control(key: str) -> Call[None]:
    """Let the key's messages start again."""
    return Call("POST", _path(key, "/resume"), ignore)


def pin_flow_control(
    key: str,
    *,
    parallelism: int | None = None,
    rate: int | None = None,
    period: int | timedelta | None = None,
) -> Call[None]:
    """Fix the key's limits: messages carrying other limits no longer change them.
    ``period`` is whole seconds (or a timedelta)."""
    if parallelism is None and rate is None:
        raise ValueError("pin needs parallelism and/or rate")
    limits = (("parallelism", parallelism), ("rate", rate))
    params = [(name, str(value)) for name, value in limits if value is not None]
    if period is not None:
        params.append(("period", str(whole_seconds("period", period))))
    return Call("POST", _path(key, "/pin"), ignore, params=params)


def unpin_flow_control(key: str, *, parallelism: bool = False, rate: bool = False) -> Call[None]:
    """Let messages change the pinned limits again (``parallelism`` and/or ``rate``)."""
    params = [("parallelism", str(parallelism).lower()), ("rate", str(rate).lower())]
    return Call("POST", _path(key, "/unpin"), ignore, params=params)


def reset_flow_control_rate(key: str) -> Call[None]:
    """Start a new rate period now, with a count of zero."""
    return Call("POST", _path(key, "/resetRate"), ignore)


def get_global_parallelism() -> Call[GlobalParallelism]:
    """The server-wide delivery limit and current use."""
    return Call("GET", "/v2/globalParallelism", GlobalParallelism.from_json)


class FlowControls(Namespace[M]):
    get = Operation(get_flow_control)
    list = Operation(list_flow_controls)
    pause = Operation(pause_flow_control)
    resume = Operation(resume_flow_control)
    pin = Operation(pin_flow_control)
    unpin = Operation(unpin_flow_control)
    reset_rate = Operation(reset_flow_control_rate)
    global_parallelism = Operation(get_global_parallelism)
