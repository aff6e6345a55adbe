"""Unit tests for wirepost.delivery.retry: backoff, Retry-After and the delay expression."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy

from wirepost.delivery.retry import (
    MAX_RETRY_DELAY,
    default_backoff,
    next_retry_delay,
    retry_after,
)
from wirepost.retry_delay import RetryDelay

# Property tests stay quick (tests/unit must run in about 2 s) and never time out on a
# loaded machine.
_QUICK = settings(max_examples=40, deadline=None)

NOW = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)


def _seconds(delay: timedelta | None) -> float:
    assert delay is not None
    return delay.total_seconds()


@pytest.mark.parametrize(
    ("retried", "seconds"),
    [(1, 12.182494), (2, 148.413159), (3, 1808.042414), (4, 22026.465795)],
)
def test_default_backoff_follows_e_to_the_two_and_a_half_n(retried: int, seconds: float) -> None:
    assert _seconds(default_backoff(retried)) == pytest.approx(seconds, abs=1e-6)
    assert _seconds(default_backoff(retried)) == pytest.approx(math.exp(2.5 * retried), abs=1e-6)


@pytest.mark.parametrize("retried", [5, 6, 20, 1000, 10**9])
def test_default_backoff_caps_at_one_day(retried: int) -> None:
    assert default_backoff(retried) == MAX_RETRY_DELAY == timedelta(days=1)


@pytest.mark.parametrize("retried", [0, -1])
def test_default_backoff_rejects_retry_numbers_below_one(retried: int) -> None:
    with pytest.raises(ValueError, match="retried counts retries from 1"):
        default_backoff(retried)


@_QUICK
@given(st.integers(min_value=1, max_value=10_000))
def test_default_backoff_is_monotonic_and_capped(retried: int) -> None:
    current = default_backoff(retried)
    assert timedelta(seconds=12) < current <= MAX_RETRY_DELAY
    assert default_backoff(retried + 1) >= current


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "30"}, 30),
        ({"retry-after": "30"}, 30),
        ({"RETRY-AFTER": "2.5"}, 2.5),
        ({"Retry-After": "0"}, 0),
        ({"Retry-After": " 7 "}, 7),
        ({"Retry-After": "6m5s"}, 365),
        ({"Retry-After": "1h"}, 3600),
        ({"Retry-After": "1500ms"}, 1.5),
        ({"Retry-After": "86400"}, 86400),
        ({"X-RateLimit-Reset": "45"}, 45),
        ({"x-ratelimit-reset-requests": "1s"}, 1),
        ({"X-RateLimit-Reset-Tokens": "6m0s"}, 360),
    ],
)
def test_retry_after_reads_seconds_and_go_durations(
    headers: dict[str, str], seconds: float
) -> None:
    assert _seconds(retry_after(headers, NOW)) == seconds


def test_retry_after_reads_an_http_date() -> None:
    later = NOW + timedelta(minutes=5)
    headers = {"Retry-After": format_datetime(later, usegmt=True)}
    assert headers["Retry-After"] == "Sat, 28 Nov 2026 12:05:00 GMT"
    assert retry_after(headers, NOW) == timedelta(minutes=5)


def test_retry_after_treats_a_past_http_date_as_now() -> None:
    assert retry_after({"Retry-After": "Sat, 28 Nov 2026 11:00:00 GMT"}, NOW) == timedelta(0)


def test_retry_after_reads_a_large_number_as_a_unix_timestamp() -> None:
    reset = int(NOW.timestamp()) + 90
    assert retry_after({"X-RateLimit-Reset": str(reset)}, NOW) == timedelta(seconds=90)


def test_retry_after_treats_a_past_unix_timestamp_as_now() -> None:
    reset = int(NOW.timestamp()) - 90
    assert retry_after({"X-RateLimit-Reset": str(reset)}, NOW) == timedelta(0)


def test_retry_after_uses_now_in_any_zone() -> None:
    tokyo = NOW.astimezone(timezone(timedelta(hours=9)))
    reset = int(NOW.timestamp()) + 60
    assert retry_after({"X-RateLimit-Reset": str(reset)}, tokyo) == timedelta(seconds=60)


@pytest.mark.parametrize(
    "value",
    [
        "86401",
        "25h",
        "Sun, 29 Nov 2026 12:00:01 GMT",
        str(int(NOW.timestamp()) + 86_401),
        "1" + "0" * 40,
        "abc",
        "",
        "-5",
        "-1s",
        "5y",
        "Mon, 99 Foo 2026",
        "1e9",
    ],
)
def test_retry_after_ignores_values_beyond_a_day_or_unreadable(value: str) -> None:
    assert retry_after({"Retry-After": value}, NOW) is None


def test_retry_after_accepts_exactly_one_day_as_a_date() -> None:
    headers = {"Retry-After": "Sun, 29 Nov 2026 12:00:00 GMT"}
    assert retry_after(headers, NOW) == MAX_RETRY_DELAY


def test_retry_after_returns_none_without_the_headers() -> None:
    assert retry_after({"Content-Type": "text/plain"}, NOW) is None
    assert retry_after({}, NOW) is None


def test_retry_after_prefers_retry_after_over_rate_limit_headers() -> None:
    headers = {"X-RateLimit-Reset": "100", "Retry-After": "5"}
    assert retry_after(headers, NOW) == timedelta(seconds=5)


def test_retry_after_falls_through_an_unusable_retry_after() -> None:
    headers = {"Retry-After": "soon", "X-RateLimit-Reset": "100"}
    assert retry_after(headers, NOW) == timedelta(seconds=100)


def test_retry_after_waits_for_the_longest_rate_limit_reset() -> None:
    headers = {
        "X-RateLimit-Reset-Requests": "1s",
        "X-RateLimit-Reset-Tokens": "6m0s",
        "X-RateLimit-Reset": "90000",
    }
    assert retry_after(headers, NOW) == timedelta(minutes=6)


def test_retry_after_reads_a_case_insensitive_multidict() -> None:
    headers = CIMultiDict([("retry-after", "12"), ("Retry-After", "99")])
    assert retry_after(CIMultiDictProxy(headers), NOW) == timedelta(seconds=12)


def test_retry_after_uses_the_first_value_of_a_repeated_plain_name() -> None:
    headers = {"Retry-After": "3", "retry-after": "4"}
    assert retry_after(headers, NOW) == timedelta(seconds=3)


def test_retry_after_rejects_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        retry_after({"Retry-After": "1"}, NOW.replace(tzinfo=None))


@_QUICK
@given(st.text(max_size=30))
def test_retry_after_never_raises_and_stays_within_a_day(value: str) -> None:
    delay = retry_after({"Retry-After": value}, NOW)
    assert delay is None or timedelta(0) <= delay <= MAX_RETRY_DELAY


def test_next_retry_delay_prefers_the_destination_headers() -> None:
    expression = RetryDelay.parse("1000")
    delay = next_retry_delay(
        1, expression=expression, response_headers={"Retry-After": "42"}, now=NOW
    )
    assert delay == timedelta(seconds=42)


def test_next_retry_delay_honours_retry_after_zero() -> None:
    delay = next_retry_delay(3, expression=None, response_headers={"Retry-After": "0"}, now=NOW)
    assert delay == timedelta(0)


def test_next_retry_delay_evaluates_the_expression_with_retried_from_zero() -> None:
    expression = RetryDelay.parse("1000 * (1 + retried)")
    first = next_retry_delay(1, expression=expression, response_headers=None, now=NOW)
    second = next_retry_delay(2, expression=expression, response_headers={}, now=NOW)
    assert first == timedelta(seconds=1)
    assert second == timedelta(seconds=2)


def test_next_retry_delay_uses_the_expression_when_headers_are_unusable() -> None:
    expression = RetryDelay.parse("pow(2, retried) * 1000")
    headers = {"Retry-After": "tomorrow-ish"}
    assert next_retry_delay(4, expression=expression, response_headers=headers, now=NOW) == (
        timedelta(seconds=8)
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-5000", timedelta(0)),
        ("0", timedelta(0)),
        ("1.5", timedelta(microseconds=1500)),
        ("86400000", MAX_RETRY_DELAY),
        ("86400001", MAX_RETRY_DELAY),
        ("pow(10, 400)", MAX_RETRY_DELAY),
        ("-pow(10, 400)", timedelta(0)),
    ],
)
def test_next_retry_delay_clamps_the_expression_to_zero_and_one_day(
    text: str, expected: timedelta
) -> None:
    expression = RetryDelay.parse(text)
    assert next_retry_delay(1, expression=expression, response_headers=None, now=NOW) == expected


@pytest.mark.parametrize("text", ["1 / 0", "1 / retried", "sqrt(-1)", "exp(1000) - exp(1000)"])
def test_next_retry_delay_falls_back_to_default_backoff_on_evaluation_errors(text: str) -> None:
    expression = RetryDelay.parse(text)
    delay = next_retry_delay(1, expression=expression, response_headers=None, now=NOW)
    assert delay == default_backoff(1)


def test_next_retry_delay_defaults_to_exponential_backoff() -> None:
    for retried in range(1, 8):
        delay = next_retry_delay(retried, expression=None, response_headers=None, now=NOW)
        assert delay == default_backoff(retried)


def test_next_retry_delay_rejects_retry_numbers_below_one() -> None:
    with pytest.raises(ValueError, match="retried counts retries from 1"):
        next_retry_delay(0, expression=None, response_headers=None, now=NOW)


def test_next_retry_delay_rejects_a_naive_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_retry_delay(
            1,
            expression=None,
            response_headers=None,
            now=datetime(2026, 1, 1),  # noqa: DTZ001
        )
