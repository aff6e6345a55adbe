"""Unit tests for wirepost.durations: the duration grammar of QStash §5.2."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirepost.durations import MAX_DURATION, format_duration, parse_duration

# Property tests stay quick (tests/unit must run in about 2 s) and never time out on a
# loaded machine.
_QUICK = settings(max_examples=40, deadline=None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10s", timedelta(seconds=10)),
        ("5m", timedelta(minutes=5)),
        ("2h", timedelta(hours=2)),
        ("7d", timedelta(days=7)),
        ("1d10h30m", timedelta(days=1, hours=10, minutes=30)),
        ("1h30m3s", timedelta(seconds=5403)),
        ("1.5s", timedelta(seconds=1, milliseconds=500)),
        ("500ms", timedelta(milliseconds=500)),
        ("250us", timedelta(microseconds=250)),
        ("250\u00b5s", timedelta(microseconds=250)),
        ("250\u03bcs", timedelta(microseconds=250)),
        ("3000ns", timedelta(microseconds=3)),
        ("0.5h", timedelta(minutes=30)),
        (".5m", timedelta(seconds=30)),
        ("6m5s", timedelta(minutes=6, seconds=5)),
        ("30s1h", timedelta(hours=1, seconds=30)),
        ("1s1s", timedelta(seconds=2)),
        ("0s", timedelta(0)),
    ],
)
def test_parse_duration_reads_unit_groups(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30", timedelta(seconds=30)),
        ("0", timedelta(0)),
        ("1.25", timedelta(seconds=1.25)),
        ("5.", timedelta(seconds=5)),
    ],
)
def test_parse_duration_reads_bare_numbers_as_seconds(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


def test_parse_duration_trims_surrounding_whitespace() -> None:
    assert parse_duration("  \t1h30m\n") == timedelta(hours=1, minutes=30)


def test_parse_duration_rounds_nanoseconds_to_microseconds_half_even() -> None:
    assert parse_duration("1500ns") == timedelta(microseconds=2)
    assert parse_duration("2500ns") == timedelta(microseconds=2)
    assert parse_duration("400ns") == timedelta(0)


def test_parse_duration_accepts_exactly_one_hundred_years() -> None:
    assert parse_duration("36525d") == MAX_DURATION


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-5s", "negative"),
        ("-1", "negative"),
        ("5y", "unknown unit 'y'"),
        ("10sec", "unknown unit 'sec'"),
        ("1M", "unknown unit 'M'"),
        ("1h30", "'30' has no unit"),
        ("1h 30m", "unexpected ' '"),
        ("5 s", "unexpected ' '"),
        ("+5s", "unexpected '+'"),
        ("1h-5m", "unexpected '-'"),
        ("1..5s", "unexpected '.'"),
        ("abc", "unexpected 'a'"),
        ("s", "unexpected 's'"),
        ("1e3s", "unknown unit 'e'"),
        ("36526d", "longer than 100 years"),
        ("9" * 60 + "d", "longer than 100 years"),
        ("1s" * 60, "too long"),
    ],
)
def test_parse_duration_rejects_bad_text_with_a_reason(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="duration") as caught:
        parse_duration(text)
    message = str(caught.value)
    assert fragment in message
    if fragment != "too long":
        assert "10s" in message
        assert "1h30m" in message


def test_parse_duration_rejects_non_ascii_digits() -> None:
    with pytest.raises(ValueError, match="unexpected"):
        parse_duration("\u0663s")  # ARABIC-INDIC DIGIT THREE


@pytest.mark.parametrize(
    ("duration", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=5403), "1h30m3s"),
        (timedelta(days=1, hours=10, minutes=30), "1d10h30m"),
        (timedelta(seconds=1.5), "1s500ms"),
        (timedelta(microseconds=1_001), "1ms1us"),
        (timedelta(days=3), "3d"),
        (-timedelta(minutes=5), "-5m"),
    ],
)
def test_format_duration_writes_compact_groups(duration: timedelta, text: str) -> None:
    assert format_duration(duration) == text


durations = st.timedeltas(min_value=timedelta(0), max_value=MAX_DURATION)


@_QUICK
@given(durations)
def test_format_duration_round_trips_through_parse_duration(duration: timedelta) -> None:
    assert parse_duration(format_duration(duration)) == duration


@_QUICK
@given(st.text(max_size=40))
def test_parse_duration_raises_only_value_error_on_random_text(text: str) -> None:
    try:
        result = parse_duration(text)
    except ValueError:
        return
    assert timedelta(0) <= result <= MAX_DURATION


@_QUICK
@given(st.integers(min_value=0, max_value=10**9))
def test_parse_duration_reads_any_integer_seconds(seconds: int) -> None:
    assert parse_duration(str(seconds)) == timedelta(seconds=seconds)
    assert parse_duration(f"{seconds}s") == timedelta(seconds=seconds)
