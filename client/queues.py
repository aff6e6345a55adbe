"""``client.queues``: ordered queues with a parallelism limit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from . import fields as f
from .call import Call, ignore, json_call, segment
from .fields import FromJson, wire
from .operation import M, Namespace, Operation

# ruff: noqa: RUF009 - wire() returns dataclasses.field(...), as config.py's _setting does


@dataclass(frozen=True, kw_only=True)
class Queue(FromJson):
    """A queue; ``lag`` counts its messages not yet finished."""

    name: str = wire("name")
    parallelism: int = wire("parallelism", f.number)
    paused: bool = wire("paused", f.flag)
    lag: int = wire("lag", f.number)
    created_at: datetime = wire("createdAt", f.millis)
    updated_at: datetime = wire("updatedAt", f.millis)


def _path(name: str, action: str = "") -> str:
    return f"/v2/queues/{segment('queue', name)}{action}"


def upsert_queue(name: str, *, parallelism: int = 1, paused: bool = False) -> Call[None]:
    """Create the queue or change its parallelism and paused state."""
    body = {"queueName": name, "parallelism": parallelism, "paused": paused}
    return json_call("POST", "/v2/queues", ignore, body)


def get_queue(name: str) -> Call[Queue]:
    """One queue (404 if there is none)."""
    return Call("GET", _path(name), Queue.from_json)


def list_queues() -> Call[list[Queue]]:
    """Every queue."""
    return Call("GET", "/v2/queues", Queue.list_from_json)


def delete_queue(name: str) -> Call[None]:
    """Delete the queue; its waiting messages are cancelled."""
    return Call("DELETE", _path(name), ignore)


def pause_queue(name: str) -> Call[None]:
    """Stop starting the queue's messages (it still accepts new ones)."""
    return Call("POST", _path(name, "/pause"), ignore)


def resume_queue(name: str) -> Call[None]:
    """Start the queue's messages again, in order."""
    return Call("POST", _path(name, "/resume"), ignore)


class Queues(Namespace[M]):
    upsert = Operation(upsert_queue)
    get = Operation(get_queue)
    list = Operation(list_queues)
    delete = Operation(delete_queue)
    pause = Operation(pause_queue)
    resume = Operation(resume_queue)
