"""Unit tests for wirepost.cron: parsing, CRON_TZ, next/previous ticks, DST."""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirepost.cron import CronSpec, next_fire, parse_cron, previous_fire

# Property tests stay quick (tests/unit must run in about 2 s) and never time out on a
# loaded machine.
_QUICK = settings(max_examples=40, deadline=None)

NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def _fires(spec: CronSpec, after: datetime, count: int) -> list[datetime]:
    ticks: list[datetime] = []
    for _ in range(count):
        after = next_fire(spec, after)
        ticks.append(after)
    return ticks


def _fires_backwards(spec: CronSpec, at: datetime, count: int) -> list[datetime]:
    ticks: list[datetime] = []
    for _ in range(count):
        at = previous_fire(spec, at)
        ticks.append(at)
        at -= timedelta(microseconds=1)
    return ticks


def test_parse_cron_keeps_the_expression_and_defaults_to_utc() -> None:
    spec = parse_cron("*/5 * * * *")
    assert spec == CronSpec(expression="*/5 * * * *", fields="*/5 * * * *", zone=ZoneInfo("UTC"))


def test_parse_cron_normalizes_whitespace_between_fields() -> None:
    spec = parse_cron("  0   9\t* *  mon-fri ")
    assert spec.fields == "0 9 * * mon-fri"
    assert spec.expression == "  0   9\t* *  mon-fri "


def test_parse_cron_applies_a_cron_tz_prefix() -> None:
    spec = parse_cron("CRON_TZ=America/New_York 30 2 * * *")
    assert spec.zone == NEW_YORK
    assert spec.fields == "30 2 * * *"
    assert spec.expression == "CRON_TZ=America/New_York 30 2 * * *"


def test_parse_cron_accepts_a_tz_prefix_like_go_cron() -> None:
    assert parse_cron("TZ=Europe/Berlin 0 8 * * *").zone == BERLIN


@pytest.mark.parametrize(
    ("alias", "fields"),
    [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@DAILY", "0 0 * * *"),
    ],
)
def test_parse_cron_expands_aliases(alias: str, fields: str) -> None:
    assert parse_cron(alias).fields == fields
    assert parse_cron(f"CRON_TZ=Europe/Berlin {alias}").fields == fields


@pytest.mark.parametrize(
    "text",
    [
        "0 0 * * 1-5",
        "0 0 * * MON-FRI",
        "0 0 1 jan,jul *",
        "15,45 */2 * * *",
        "0 0 L * *",
        "0 0 * * 1#2",
        "0 0 15W * *",
        "0 0 ? * 1",
        "0 0 29 2 *",
        "0 0 * * 7",
    ],
)
def test_parse_cron_accepts_croniter_syntax(text: str) -> None:
    assert parse_cron(text).fields == text


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("* * * * * *", "has 6 fields; expected 5"),
        ("0 * * * * * 2026", "has 7 fields"),
        ("* * * *", "has 4 fields"),
        ("@reboot", "no reboot event"),
        ("@every 5m", "unknown alias"),
        ("H * * * *", "hashed or random"),
        ("r * * * *", "hashed or random"),
        ("0 H(0-3) * * *", "hashed or random"),
        ("0,h * * * *", "hashed or random"),
        ("60 * * * *", "invalid cron expression"),
        ("* 24 * * *", "invalid cron expression"),
        ("* * 0 * *", "invalid cron expression"),
        ("*/0 * * * *", "invalid cron expression"),
        ("a b c d e", "invalid cron expression"),
        ("0 0 30 2 *", "never fires"),
        ("0 0 31 4 *", "never fires"),
        ("CRON_TZ=Mars/Olympus_Mons * * * * *", "unknown time zone 'Mars/Olympus_Mons'"),
        ("CRON_TZ=America * * * * *", "unknown time zone 'America'"),
        ("CRON_TZ=../../etc/passwd * * * * *", "unknown time zone"),
        ("CRON_TZ= * * * * *", "unknown time zone ''"),
        ("CRON_TZ=utc * * * * *", "unknown time zone 'utc'"),
        ("CRON_TZ=America/New_York", "no fields"),
        ("CRON_TZ=America/New_York * * * * * *", "has 6 fields"),
        ("* " * 200, "too long"),
    ],
)
def test_parse_cron_rejects_bad_expressions(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=r"cron|time zone") as caught:
        parse_cron(text)
    assert fragment in str(caught.value)


@_QUICK
@given(
    st.lists(
        st.sampled_from([*"0123456789*/,-? LW#", "jan", "mon", "@", "CRON_TZ=UTC "]), max_size=20
    ).map("".join)
)
def test_parse_cron_raises_only_value_error(text: str) -> None:
    try:
        parse_cron(text)
    except ValueError:
        return


def test_next_fire_is_strictly_after() -> None:
    spec = parse_cron("0 * * * *")
    assert next_fire(spec, _utc(2026, 1, 1, 5, 0)) == _utc(2026, 1, 1, 6, 0)
    assert next_fire(spec, _utc(2026, 1, 1, 4, 59, 59)) == _utc(2026, 1, 1, 5, 0)
    assert next_fire(spec, datetime(2026, 1, 1, 5, 0, 0, 1, tzinfo=UTC)) == _utc(2026, 1, 1, 6)


def test_next_fire_returns_utc_for_any_input_zone() -> None:
    spec = parse_cron("30 9 * * *")
    after = datetime(2026, 6, 1, 12, 0, tzinfo=BERLIN)
    result = next_fire(spec, after)
    assert result.tzinfo is UTC
    assert result == _utc(2026, 6, 2, 9, 30)


def test_next_fire_uses_the_schedule_zone() -> None:
    spec = parse_cron("CRON_TZ=Europe/Berlin 0 8 * * *")
    assert next_fire(spec, _utc(2026, 1, 10, 0, 0)) == _utc(2026, 1, 10, 7, 0)
    assert next_fire(spec, _utc(2026, 7, 10, 0, 0)) == _utc(2026, 7, 10, 6, 0)


def test_next_fire_handles_day_of_week_and_month_ends() -> None:
    weekdays = parse_cron("0 9 * * mon-fri")
    ticks = _fires(weekdays, _utc(2026, 11, 27, 10, 0), 2)  # a Friday, after 09:00
    assert ticks == [_utc(2026, 11, 30, 9, 0), _utc(2026, 12, 1, 9, 0)]
    leap = parse_cron("0 0 29 2 *")
    assert next_fire(leap, _utc(2026, 1, 1)) == _utc(2028, 2, 29)


@pytest.mark.parametrize("method", [next_fire, previous_fire])
def test_fire_functions_reject_naive_datetimes(method: object) -> None:
    spec = parse_cron("* * * * *")
    assert callable(method)
    with pytest.raises(ValueError, match="timezone-aware"):
        method(spec, datetime(2026, 1, 1))  # noqa: DTZ001


def test_previous_fire_includes_a_tick_at_exactly_at() -> None:
    spec = parse_cron("0 * * * *")
    assert previous_fire(spec, _utc(2026, 1, 1, 5, 0)) == _utc(2026, 1, 1, 5, 0)
    assert previous_fire(spec, _utc(2026, 1, 1, 5, 59, 59)) == _utc(2026, 1, 1, 5, 0)
    assert previous_fire(spec, datetime(2026, 1, 1, 4, 59, 59, 999999, tzinfo=UTC)) == _utc(
        2026, 1, 1, 4, 0
    )


def test_previous_fire_finds_the_last_missed_tick() -> None:
    spec = parse_cron("*/15 * * * *")
    assert previous_fire(spec, _utc(2026, 3, 1, 10, 44, 30)) == _utc(2026, 3, 1, 10, 30)


# DST in America/New_York, 2026: clocks spring forward on 8 March at 02:00 EST (-> 03:00 EDT)
# and fall back on 1 November at 02:00 EDT (-> 01:00 EST).


def test_daily_0230_in_new_york_fires_once_a_day_across_spring_forward() -> None:
    spec = parse_cron("CRON_TZ=America/New_York 30 2 * * *")
    ticks = _fires(spec, datetime(2026, 3, 6, 12, 0, tzinfo=NEW_YORK), 4)
    local = [tick.astimezone(NEW_YORK) for tick in ticks]
    assert [t.date().day for t in local] == [7, 8, 9, 10]
    assert ticks == [
        _utc(2026, 3, 7, 7, 30),  # 02:30 EST
        _utc(2026, 3, 8, 7, 0),  # 02:30 does not exist: 03:00 EDT, the end of the gap
        _utc(2026, 3, 9, 6, 30),  # 02:30 EDT
        _utc(2026, 3, 10, 6, 30),
    ]


def test_daily_0230_in_new_york_fires_once_a_day_across_fall_back() -> None:
    spec = parse_cron("CRON_TZ=America/New_York 30 2 * * *")
    ticks = _fires(spec, datetime(2026, 10, 30, 12, 0, tzinfo=NEW_YORK), 4)
    assert ticks == [
        _utc(2026, 10, 31, 6, 30),  # 02:30 EDT
        _utc(2026, 11, 1, 7, 30),  # 02:30 EST (02:30 happens once that day)
        _utc(2026, 11, 2, 7, 30),
        _utc(2026, 11, 3, 7, 30),
    ]


def test_daily_0130_in_new_york_fires_once_in_the_repeated_hour() -> None:
    spec = parse_cron("CRON_TZ=America/New_York 30 1 * * *")
    ticks = _fires(spec, datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK), 3)
    assert ticks == [
        _utc(2026, 11, 1, 5, 30),  # 01:30 EDT, the first occurrence
        _utc(2026, 11, 2, 6, 30),  # 01:30 EST the next day; 01:30 EST on 1 Nov is skipped
        _utc(2026, 11, 3, 6, 30),
    ]


def test_fixed_time_inside_the_repeated_hour_fires_each_minute_once() -> None:
    spec = parse_cron("CRON_TZ=America/New_York 0,20,40 1 * * *")
    ticks = _fires(spec, datetime(2026, 11, 1, 0, 0, tzinfo=NEW_YORK), 4)
    assert ticks == [
        _utc(2026, 11, 1, 5, 0),
        _utc(2026, 11, 1, 5, 20),
        _utc(2026, 11, 1, 5, 40),
        _utc(2026, 11, 2, 6, 0),
    ]


def test_hourly_schedule_keeps_real_time_rhythm_through_fall_back() -> None:
    spec = parse_cron("CRON_TZ=America/New_York 0 * * * *")
    ticks = _fires(spec, datetime(2026, 11, 1, 0, 30, tzinfo=NEW_YORK), 4)
    assert ticks == [
        _utc(2026, 11, 1, 5, 0),  # 01:00 EDT
        _utc(2026, 11, 1, 6, 0),  # 01:00 EST
        _utc(2026, 11, 1, 7, 0),  # 02:00 EST
        _utc(2026, 11, 1, 8, 0),
    ]


def test_hourly_schedule_skips_the_missing_hour_at_spring_forward() -> None:
    spec = parse_cron("CRON_TZ=America/New_York 0 * * * *")
    ticks = _fires(spec, datetime(2026, 3, 8, 0, 30, tzinfo=NEW_YORK), 3)
    assert ticks == [
        _utc(2026, 3, 8, 6, 0),  # 01:00 EST
        _utc(2026, 3, 8, 7, 0),  # 03:00 EDT
        _utc(2026, 3, 8, 8, 0),  # 04:00 EDT
    ]


def test_previous_fire_mirrors_next_fire_across_fall_back() -> None:
    spec = parse_cron("CRON_TZ=America/New_York 30 1 * * *")
    forwards = _fires(spec, datetime(2026, 10, 30, 12, 0, tzinfo=NEW_YORK), 4)
    backwards = _fires_backwards(spec, forwards[-1], 4)
    assert backwards == list(reversed(forwards))


def test_previous_fire_mirrors_next_fire_across_spring_forward() -> None:
    spec = parse_cron("CRON_TZ=America/New_York 30 2 * * *")
    forwards = _fires(spec, datetime(2026, 3, 6, 12, 0, tzinfo=NEW_YORK), 4)
    backwards = _fires_backwards(spec, forwards[-1], 4)
    assert backwards == list(reversed(forwards))


_SCHEDULES = st.sampled_from(
    [
        "*/7 * * * *",
        "30 2 * * *",
        "CRON_TZ=America/New_York 30 1 * * *",
        "CRON_TZ=America/New_York 0 * * * *",
        "CRON_TZ=Europe/Berlin 15 2,3 * * *",
        "CRON_TZ=Australia/Lord_Howe 45 1 * * *",
        "0 9 * * mon-fri",
    ]
)
_MOMENTS = st.datetimes(
    min_value=datetime(2025, 1, 1),  # noqa: DTZ001
    max_value=datetime(2028, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@_QUICK
@given(_SCHEDULES, _MOMENTS)
def test_next_fire_is_after_and_previous_fire_is_at_or_before(text: str, moment: datetime) -> None:
    spec = parse_cron(text)
    following = next_fire(spec, moment)
    preceding = previous_fire(spec, moment)
    assert preceding <= moment < following
    assert following.tzinfo is UTC
    assert following.second == 0
    assert following.microsecond == 0
    assert previous_fire(spec, following) == following
    assert next_fire(spec, preceding) == following


_DST_ZONES = st.sampled_from(
    ["America/New_York", "Europe/Berlin", "Australia/Sydney", "Australia/Lord_Howe", "UTC"]
)
_DAILY_TIMES = st.sampled_from(["30 1", "45 1", "0 2", "30 2", "59 2", "0 3"])


@functools.cache
def _transition_days(zone: ZoneInfo, year: int) -> list[date]:
    """Local dates in ``year`` on which ``zone``'s UTC offset changes."""
    days = []
    day = date(year, 1, 1)
    while day.year == year:
        midnight = datetime.combine(day, time(0), tzinfo=zone)
        if midnight.utcoffset() != (midnight + timedelta(days=1)).utcoffset():
            days.append(day)
        day += timedelta(days=1)
    return days


@_QUICK
@given(_DST_ZONES, _DAILY_TIMES, st.integers(2025, 2030))
def test_daily_schedule_fires_once_per_local_day_across_dst(
    zone_name: str, clock: str, year: int
) -> None:
    spec = parse_cron(f"CRON_TZ={zone_name} {clock} * * *")
    transitions = _transition_days(spec.zone, year)
    assert len(transitions) == (0 if zone_name == "UTC" else 2)
    for day in transitions or [date(year, 6, 1)]:
        start = datetime.combine(day - timedelta(days=2), time(12), tzinfo=spec.zone)
        ticks = _fires(spec, start, 4)
        days = [tick.astimezone(spec.zone).date() for tick in ticks]
        assert days == [day - timedelta(days=1) + timedelta(days=n) for n in range(4)]
