"""Durations and instants as the wire wants them. Pure: no I/O.

A ``Duration`` is whole or fractional seconds (``10``, ``1.5``), a ``timedelta``, or a string in
the server's grammar (``"10s"``, ``"500ms"``, ``"1h30m"``, ``"1d10h30m"``; a bare number is
seconds). Numbers and timedeltas become ``"<n>s"``, or ``"<n>ms"``/``"<n>us"`` when they are not
whole seconds; strings are checked for their form and sent as written (the server checks ranges).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta

Duration = int | float | str | timedelta
"""Seconds as a number, a ``timedelta``, or a string such as ``"10s"``, ``"5m"``, ``"1h30m"``."""

Instant = int | datetime
"""Unix seconds (or milliseconds, where the option says so), or a timezone-aware ``datetime``."""

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_TEXT = re.compile(rf"(?:{_NUMBER}(?:ns|us|µs|μs|ms|s|m|h|d))+|{_NUMBER}")
_EXAMPLES = "use seconds (10, 1.5), a timedelta, or text such as '10s', '500ms', '5m', '1h30m'"


def _micros(name: str, value: int | float | timedelta) -> int:
    if isinstance(value, timedelta):
        micros = value // timedelta(microseconds=1)
    elif isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} got {value!r}: {_EXAMPLES}")
    else:
        micros = round(value * 1_000_000)
    if micros < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return micros


def duration_text(name: str, value: Duration) -> str:
    """``value`` as a header duration; ``name`` (the option) is used in the error message."""
    if isinstance(value, str):
        if not _TEXT.fullmatch(value.strip()):
            raise ValueError(f"{name} got {value!r}: {_EXAMPLES}")
        return value.strip()
    micros = _micros(name, value)
    for unit, size in (("s", 1_000_000), ("ms", 1_000)):
        if micros % size == 0:
            return f"{micros // size}{unit}"
    return f"{micros}us"


def whole_seconds(name: str, value: int | timedelta) -> int:
    """``value`` as whole seconds (flow-control pin periods take nothing finer)."""
    seconds, rest = divmod(_micros(name, value), 1_000_000)
    if rest:
        raise ValueError(f"{name} must be whole seconds, got {value!r}")
    return seconds


def _unix(name: str, value: Instant, per_second: int, unit: str) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"{name} must be timezone-aware, e.g. datetime.now(UTC)")
        return str(int(value.timestamp() * per_second))
    if isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be Unix {unit} or a datetime, got {value!r}")
    return str(value)


def unix_seconds(name: str, value: Instant) -> str:
    """``value`` as Unix seconds (``Upstash-Not-Before``)."""
    return _unix(name, value, 1, "seconds")


def unix_millis(name: str, value: Instant) -> str:
    """``value`` as Unix milliseconds (the ``fromDate``/``toDate`` filters)."""
    return _unix(name, value, 1000, "milliseconds")
