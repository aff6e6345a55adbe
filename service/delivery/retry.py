"""When to try a failed delivery again (QStash §9.1, §5.4).

Owns the retry-delay policy: the destination's rate-limit headers, the message's
``Upstash-Retry-Delay`` expression, and the default exponential backoff. Pure: no I/O; the
current time is a parameter. Deciding *whether* to retry (retries left, non-retryable 489) is
the dispatcher's job.

Default backoff, ``min(86400, e^(2.5·n))`` seconds with ``n`` = the number of the retry being
scheduled (1 for the first retry)::

    n = 1   e^2.5  =     12.18 s  (12 s)
    n = 2   e^5.0  =    148.41 s  (2 m 28 s)
    n = 3   e^7.5  =   1808.04 s  (30 m 8 s)
    n = 4   e^10.0 =  22026.47 s  (6 h 7 m 6 s)
    n ≥ 5   e^12.5 = 268337 s, capped at 86400 s (1 day)

With the default ``Upstash-Retries: 3`` a message is attempted at t = 0, 12 s, 2 m 41 s and
32 m 49 s after its first attempt (plus the time the attempts themselves take).

Counting retries. Everywhere in this module ``retried`` means the number of the retry about to
be scheduled: 1 for the first retry (the second attempt), 2 for the second, and so on. The
expression's variable ``retried`` counts the retries that came *before*, as QStash defines it:
0 for the first retry. So :func:`next_retry_delay` evaluates the expression with
``retried - 1``: ``"1000 * (1 + retried)"`` waits 1 s before the first retry, 2 s before the
second.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime

from wirepost.durations import parse_duration
from wirepost.retry_delay import RetryDelay

MAX_RETRY_DELAY = timedelta(days=1)
"""No retry waits longer than this, whatever the headers or the expression say."""

RETRY_AFTER_HEADER = "Retry-After"
RATE_LIMIT_RESET_HEADERS = (
    "X-RateLimit-Reset",
    "X-RateLimit-Reset-Requests",
    "X-RateLimit-Reset-Tokens",
)

_BACKOFF_EXPONENT = 2.5
_UNIX_TIMESTAMP_THRESHOLD = Decimal(1_000_000_000)
_NUMBER = re.compile(r"\d+(?:\.\d+)?", re.ASCII)


def default_backoff(retried: int) -> timedelta:
    """``min(1 day, e^(2.5 · retried))`` seconds; ``retried`` is 1 for the first retry."""
    if retried < 1:
        raise ValueError(f"retried counts retries from 1 (the first retry), got {retried}")
    exponent = _BACKOFF_EXPONENT * retried
    if exponent >= math.log(MAX_RETRY_DELAY.total_seconds()):
        return MAX_RETRY_DELAY
    return timedelta(seconds=math.exp(exponent))


def retry_after(headers: Mapping[str, str], now: datetime) -> timedelta | None:
    """The delay the destination asked for in its response headers, or None.

    ``Retry-After`` wins when it holds a usable value; otherwise the longest usable
    ``X-RateLimit-Reset``, ``X-RateLimit-Reset-Requests`` or ``X-RateLimit-Reset-Tokens``
    (so that every exhausted budget has been refilled). Names are matched case-insensitively;
    ``headers`` may be a plain dict or a multidict (the first value of a name counts).

    A value is seconds (``"30"``, ``"1.5"``; a number above 10^9 is a Unix timestamp in
    seconds), an HTTP date (``"Wed, 21 Oct 2026 07:28:00 GMT"``) or a Go duration (``"6m5s"``).
    ``"0"`` means retry now. A time in the past gives 0. A delay beyond one day, or a value
    that cannot be read, is not usable.
    """
    _require_aware(now)
    values = _first_values(headers, (RETRY_AFTER_HEADER, *RATE_LIMIT_RESET_HEADERS))
    requested = _usable_delay(values.get(RETRY_AFTER_HEADER.lower()), now)
    if requested is not None:
        return requested
    resets = [_usable_delay(values.get(name.lower()), now) for name in RATE_LIMIT_RESET_HEADERS]
    usable = [delay for delay in resets if delay is not None]
    return max(usable) if usable else None


def next_retry_delay(
    retried: int,
    *,
    expression: RetryDelay | None,
    response_headers: Mapping[str, str] | None,
    now: datetime,
) -> timedelta:
    """How long to wait before retry number ``retried`` (1 for the first retry).

    In order: the destination's headers (:func:`retry_after`); else the message's expression,
    evaluated with ``retried - 1`` (QStash counts from 0), read as milliseconds and clamped to
    [0, 1 day] (an evaluation error falls through); else :func:`default_backoff`.
    """
    if retried < 1:
        raise ValueError(f"retried counts retries from 1 (the first retry), got {retried}")
    _require_aware(now)
    if response_headers is not None:
        requested = retry_after(response_headers, now)
        if requested is not None:
            return requested
    if expression is not None:
        try:
            milliseconds = expression.evaluate(retried - 1)
        except ValueError:
            pass
        else:
            return _clamp_milliseconds(milliseconds)
    return default_backoff(retried)


def _clamp_milliseconds(milliseconds: float) -> timedelta:
    if milliseconds <= 0:
        return timedelta(0)
    if milliseconds >= MAX_RETRY_DELAY / timedelta(milliseconds=1):
        return MAX_RETRY_DELAY
    return timedelta(milliseconds=milliseconds)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def _first_values(headers: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    wanted = {name.lower() for name in names}
    found: dict[str, str] = {}
    for name, value in headers.items():
        key = name.lower()
        if key in wanted and key not in found:
            found[key] = value
    return found


def _usable_delay(value: str | None, now: datetime) -> timedelta | None:
    if value is None:
        return None
    delay = _parse_delay(value.strip(), now)
    if delay is None or delay > MAX_RETRY_DELAY:
        return None
    return max(delay, timedelta(0))


def _parse_delay(value: str, now: datetime) -> timedelta | None:
    if _NUMBER.fullmatch(value):
        number = Decimal(value)
        if number > _UNIX_TIMESTAMP_THRESHOLD:
            number -= Decimal(str(now.timestamp()))
        if number > Decimal(MAX_RETRY_DELAY.total_seconds()):
            return None
        return timedelta(seconds=float(number))
    if value[:1].isdigit() or value[:1] == ".":
        try:
            return parse_duration(value)
        except ValueError:
            return None
    return _parse_http_date(value, now)


def _parse_http_date(value: str, now: datetime) -> timedelta | None:
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment - now
