"""Cron expressions for schedules: validation and next/previous ticks (QStash §10.4).

Owns parsing ``Upstash-Cron`` values and the calendar math, on top of croniter. Pure: no I/O,
no clock (time zones come from the IANA database that ``zoneinfo`` reads).

Accepted: five fields (minute hour day-of-month month day-of-week) with croniter's syntax
(``*``, ``1-5``, ``*/15``, ``1,2``, ``jan``/``mon`` names, ``L``, ``W``, ``#`` and ``?``), one
of the aliases ``@yearly @annually @monthly @weekly @daily @midnight @hourly`` (``fields`` holds
their five-field form), and an optional ``CRON_TZ=<IANA zone> `` prefix (``TZ=`` too, as Go's
cron library accepts), which croniter 7 rejects, so it is stripped and applied with
``zoneinfo``. Without it the zone is UTC. Refused: six- or seven-field expressions (seconds,
years), ``@reboot``, croniter's hashed/random ``H``/``R`` fields (not repeatable), and
expressions that never fire (``0 0 30 2 *``).

Daylight-saving time follows Vixie/ISC cron: wall times skipped when clocks spring forward
fire at the first instant after the gap (a daily 02:30 in New York fires at 03:00 EDT that
day); wall times repeated when clocks fall back fire once, at their first occurrence, unless
the minute or hour field starts with ``*`` (``*/15 * * * *``, ``0 * * * *``): such interval
schedules keep firing in real time through the repeated hour.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

MAX_TEXT_LENGTH = 256

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_ZONE_PREFIX = re.compile(r"(?:CRON_TZ|TZ)=(\S*)\s+(.*)", re.DOTALL)
_HASHED_OR_RANDOM = re.compile(r"(?:^|,)[hr](?:$|[(/,])", re.IGNORECASE)
_EXAMPLES = "e.g. '*/5 * * * *', '0 9 * * mon-fri' or 'CRON_TZ=Europe/Berlin 30 2 * * *'"
_FIELD_NAMES = "minute hour day-of-month month day-of-week"
_UTC = ZoneInfo("UTC")
_REFERENCE = datetime(2000, 1, 1, tzinfo=UTC)
_MAX_SKIPS = 24 * 60  # ticks in a repeated hour are skipped one by one; a day bounds them


@dataclass(frozen=True)
class CronSpec:
    """A validated schedule: ``expression`` as given, ``fields`` its five fields, ``zone``."""

    expression: str
    fields: str
    zone: ZoneInfo


def parse_cron(text: str) -> CronSpec:
    """Validate ``text`` (optionally ``CRON_TZ=<zone> ``-prefixed); ValueError says what's wrong."""
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"cron expression is empty; {_EXAMPLES}")
    if len(stripped) > MAX_TEXT_LENGTH:
        raise ValueError(f"cron expression is too long (at most {MAX_TEXT_LENGTH} characters)")
    zone = _UTC
    body = stripped
    if stripped.startswith(("CRON_TZ=", "TZ=")):
        prefix = _ZONE_PREFIX.fullmatch(stripped)
        if prefix is None:
            raise ValueError(
                f"cron expression {text!r} has a time zone but no fields; write "
                "'CRON_TZ=<IANA zone> ' followed by five fields, e.g. "
                "'CRON_TZ=America/New_York 0 9 * * *'"
            )
        zone = _zone(prefix.group(1))
        body = prefix.group(2).strip()
    fields = _fields(body, text)
    _require_fires(fields, text)
    return CronSpec(expression=text, fields=fields, zone=zone)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r} in CRON_TZ; use an IANA name such as "
            "America/New_York, Europe/Berlin or UTC"
        ) from None


def _fields(body: str, text: str) -> str:
    if body.startswith("@"):
        alias = _ALIASES.get(body.lower())
        if alias is None:
            why = (
                "schedules fire on a clock; there is no reboot event"
                if body.lower() == "@reboot"
                else "unknown alias"
            )
            raise ValueError(
                f"cron {body!r} is not supported ({why}); use five fields "
                f"({_FIELD_NAMES}) or one of {', '.join(_ALIASES)}"
            )
        return alias
    parts = body.split()
    if len(parts) != 5:
        raise ValueError(
            f"cron expression {text!r} has {len(parts)} fields; expected 5 ({_FIELD_NAMES}) "
            f"with minute resolution, {_EXAMPLES}"
        )
    for part in parts:
        if _HASHED_OR_RANDOM.search(part):
            raise ValueError(
                f"cron expression {text!r} uses a hashed or random field ({part!r}), "
                "which Wirepost does not support; write the minutes and hours explicitly"
            )
    fields = " ".join(parts)
    try:
        croniter.expand(fields)
    except (ValueError, TypeError) as error:
        raise ValueError(f"invalid cron expression {text!r}: {error}; {_EXAMPLES}") from None
    return fields


def _require_fires(fields: str, text: str) -> None:
    try:
        croniter(fields, _REFERENCE).get_next(datetime)
    except ValueError:
        raise ValueError(
            f"cron expression {text!r} never fires: no calendar date matches it "
            "(like February 30th)"
        ) from None


def next_fire(spec: CronSpec, after: datetime) -> datetime:
    """The first tick strictly after ``after`` (aware), in UTC."""
    local = _require_aware(after, "after").astimezone(spec.zone)
    ticks = croniter(spec.fields, local)
    for _ in range(_MAX_SKIPS):
        candidate: datetime = ticks.get_next(datetime)
        if not _skipped_repeat(spec, candidate):
            return candidate.astimezone(UTC)
    raise AssertionError("unreachable: a fall-back transition repeats less than a day")


def previous_fire(spec: CronSpec, at: datetime) -> datetime:
    """The last tick at or before ``at`` (aware), in UTC; for finding missed ticks."""
    local = _require_aware(at, "at").astimezone(spec.zone)
    # Ticks fall on whole minutes: the last tick <= at is the last one < (at's minute + 1 s).
    start = local.replace(second=0, microsecond=0) + timedelta(seconds=1)
    ticks = croniter(spec.fields, start)
    for _ in range(_MAX_SKIPS):
        candidate: datetime = ticks.get_prev(datetime)
        if not _skipped_repeat(spec, candidate):
            return candidate.astimezone(UTC)
    raise AssertionError("unreachable: a fall-back transition repeats less than a day")


def _require_aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    return moment


def _skipped_repeat(spec: CronSpec, candidate: datetime) -> bool:
    """True for the second occurrence of a wall time repeated at a fall-back transition."""
    minute, hour = spec.fields.split()[:2]
    if minute.startswith("*") or hour.startswith("*"):
        return False
    wall = candidate.replace(tzinfo=None)
    first = wall.replace(tzinfo=spec.zone, fold=0).astimezone(UTC)
    second = wall.replace(tzinfo=spec.zone, fold=1).astimezone(UTC)
    return first != second and candidate.astimezone(UTC) == max(first, second)
