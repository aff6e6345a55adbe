"""Values shared across layers: messages, deliveries, attempt outcomes, log entries, DLQ entries,
URL groups.

Frozen dataclasses only; no I/O. Store functions return these, never database records.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, NamedTuple

from wirepost.entropy import random_bytes

Headers = dict[str, list[str]]
"""Header map as QStash shows it: canonical name → list of values."""

_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_OF_BYTE = bytes(ord(_BASE58[b % 58]) for b in range(256))  # bytes.translate table
_TIME_DIGITS = 8  # 58**8 milliseconds after 1970 is the year 6028
_last_millisecond: tuple[int, str] = (-1, "")


@functools.lru_cache(maxsize=4096)
def canonical_header(name: str) -> str:
    """Go's canonical header form, which QStash shows: ``test-header`` → ``Test-Header``."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def new_id(prefix: str, length: int = 27) -> str:
    """``msg_2XavMmRcJHJf7HkNtNqjfVf8uQe``-style id: ``length`` base58 digits, the first 8 the
    current Unix milliseconds, the rest random (from the OS's CSPRNG, one byte per digit taken
    modulo 58: 5.85 bits a digit, 111 bits in the 19 of the default length).

    Fixed width, most significant digit first, in an alphabet in ASCII order, so ids sort by
    creation time in byte order, the order of the id columns (``COLLATE "C"``, migration 0008):
    B-tree inserts into the tables keyed by message id land on the rightmost pages instead of
    random ones. Still opaque to clients (QStash ids are opaque strings). The time
    digits are made once per millisecond and the random ones by one ``bytes.translate``: a
    158-bit number divided into digits cost 6 µs an id, a sixth of a ``/v2/batch``'s CPU."""
    global _last_millisecond
    millisecond = time.time_ns() // 1_000_000
    if millisecond != _last_millisecond[0]:
        digits, number = [], millisecond
        for _ in range(_TIME_DIGITS):
            number, digit = divmod(number, 58)
            digits.append(_BASE58[digit])
        _last_millisecond = (millisecond, "".join(reversed(digits)))
    random_digits = random_bytes(length - _TIME_DIGITS).translate(_BASE58_OF_BYTE)
    return prefix + _last_millisecond[1] + random_digits.decode("ascii")


class State(StrEnum):
    CREATED = "CREATED"
    ACTIVE = "ACTIVE"
    DELIVERED = "DELIVERED"
    ERROR = "ERROR"
    RETRY = "RETRY"
    FAILED = "FAILED"
    CANCEL_REQUESTED = "CANCEL_REQUESTED"
    CANCELED = "CANCELED"


@dataclass(frozen=True)
class Message:
    id: str
    url: str
    method: str
    headers: Headers
    body: bytes
    max_retries: int
    not_before: datetime
    created_at: datetime
    retry_delay: str | None = None
    timeout_ms: int | None = None
    caller_ip: str | None = None
    labels: tuple[str, ...] = ()
    topic_name: str | None = None
    endpoint_name: str | None = None
    queue_name: str | None = None
    schedule_id: str | None = None
    callback: str | None = None
    callback_headers: Headers | None = None
    failure_callback: str | None = None
    failure_callback_headers: Headers | None = None
    callback_options: dict[str, dict[str, Any]] | None = None  # "callback"/"failure" config
    flow_control_key: str | None = None
    flow_control: dict[str, int | None] | None = None  # parallelism, rate, period (s)
    redact: tuple[str, ...] | None = None
    dedup_id: str | None = None
    source_message_id: str | None = None  # set on callbacks: the message they report on

    def evolve(self, **changes: Any) -> Message:
        """A copy with ``changes``, as ``dataclasses.replace`` makes it, without running the
        frozen ``__init__`` again (see ``message_from_fields``): ``replace`` cost 7 µs, a sixth
        of a ``/v2/batch``'s CPU per message."""
        unknown = changes.keys() - _FIELD_SET
        if unknown:
            raise TypeError(f"Message has no field(s) {', '.join(sorted(unknown))}")
        return message_from_fields({**self.__dict__, **changes})


MESSAGE_FIELDS: tuple[str, ...] = tuple(Message.__dataclass_fields__)
"""Message's field names, in declaration order."""
_FIELD_SET = frozenset(MESSAGE_FIELDS)


def message_from_fields(values: dict[str, Any]) -> Message:
    """A frozen Message holding ``values`` (every field, nothing else), which becomes the
    instance's ``__dict__``: the caller hands over a dict of its own making and keeps no
    reference to it. The frozen ``__init__`` makes 26 ``object.__setattr__`` calls, which cost
    5 % of the delivery loop's CPU when claims built messages with it; copying ``values`` into
    the new instance's own dict took 0.44 µs a message, handing it over 0.24 (``timeit``).
    ``Message`` has no ``__post_init__``, so the result is the same."""
    message: Message = object.__new__(Message)
    object.__setattr__(message, "__dict__", values)
    return message


class Claimed(NamedTuple):
    """A delivery leased to this worker: the message plus the lease fence and retry count.

    A NamedTuple rather than a frozen dataclass: one is built per claimed delivery, and the
    dataclass's ``__init__`` (three ``object.__setattr__`` calls) cost as much as the rest of
    turning the claim's row into a message."""

    message: Message
    claims: int
    retried: int


class Handoff(NamedTuple):
    """Messages a publish stores already claimed by this process's delivery loop (first claim,
    leased until ``until``), which sends them once they commit instead of claiming them."""

    messages: list[Message]
    until: datetime


@dataclass(frozen=True)
class Response:
    """What the destination answered (status 0 = no HTTP response)."""

    status: int = 0
    headers: Headers = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Delivered:
    response: Response


@dataclass(frozen=True)
class RetryLater:
    at: datetime
    error: str
    response: Response


@dataclass(frozen=True)
class GiveUp:
    error: str
    response: Response


Outcome = Delivered | RetryLater | GiveUp


@dataclass(frozen=True)
class Event:
    """One log entry: a state transition of a message."""

    id: int
    at: datetime
    state: State
    message: Message
    error: str | None = None
    next_delivery_at: datetime | None = None
    response: Response | None = None


@dataclass(frozen=True)
class DeadLetter:
    id: int
    created_at: datetime
    message: Message
    response: Response
    error: str | None


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of a URL group: a destination URL and an optional name."""

    url: str
    name: str | None = None


@dataclass(frozen=True)
class UrlGroup:
    """A named set of endpoints; publishing to the name fans out to every endpoint."""

    name: str
    created_at: datetime
    updated_at: datetime
    endpoints: tuple[Endpoint, ...]


@dataclass(frozen=True)
class SigningKeys:
    current: str
    next: str


@dataclass(frozen=True)
class FlowLimits:
    """``Upstash-Flow-Control-Value``: at least one limit; period in seconds (default 1)."""

    parallelism: int | None = None
    rate: int | None = None
    period: int = 1


@dataclass(frozen=True)
class Gate:
    """A queue or a flow-control key: what admits parked deliveries, and its current load."""

    kind: str  # "queue" | "flow"
    name: str
    parallelism: int | None
    rate: int | None
    period_seconds: int
    paused: bool
    pinned_parallelism: bool
    pinned_rate: bool
    rate_count: int
    rate_period_start: datetime | None
    created_at: datetime
    updated_at: datetime
    waiting: int
    admitted: int


@dataclass(frozen=True)
class Schedule:
    """A cron schedule. ``template`` is what every tick sends (as ``spec.build_template`` made
    it: its ``id``, ``url``, ``not_before`` and ``created_at`` are placeholders filled per
    message); ``delay`` is added to each tick's time; ``last_states`` maps the last tick's
    message ids to IN_PROGRESS / SUCCESS / FAIL."""

    id: str
    destination: str
    cron: str
    template: Message
    created_at: datetime
    next_fire_at: datetime
    delay: timedelta = timedelta(0)
    paused: bool = False
    last_fire_at: datetime | None = None
    last_states: dict[str, str] = field(default_factory=dict)
    error: str | None = None
