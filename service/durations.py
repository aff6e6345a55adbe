"""Duration strings such as ``10s``, ``500ms``, ``1h30m3s`` or ``1d10h30m`` (QStash §5.2).

Owns parsing and formatting of the durations written in headers (``Upstash-Delay``,
``Upstash-Timeout``, flow-control ``period``), in destination ``Retry-After`` values and in
settings. Pure: no I/O, no clock.

Grammar: one or more ``<number><unit>`` groups, in any order (as Go's ``time.ParseDuration``),
where a number is ``12``, ``1.5`` or ``.5`` and a unit is one of ``ns us µs ms s m h d``
(``μs`` with a Greek mu is accepted too). A bare number means seconds. Whitespace around the
text is ignored; whitespace inside it is not. Results are exact to the microsecond (the
resolution of :class:`~datetime.timedelta`; nanoseconds are rounded half to even).
"""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal

MAX_DURATION = timedelta(days=36525)
"""The largest duration accepted: 100 years (of 365.25 days). Anything longer is a typo."""

MAX_TEXT_LENGTH = 100

_EXAMPLES = (
    "use a number followed by a unit, e.g. 10s, 500ms, 5m, 1h30m or 1d10h30m "
    "(units: ns, us, ms, s, m, h, d); a bare number means seconds"
)

_MICROSECONDS_PER_UNIT: dict[str, Decimal] = {
    "ns": Decimal("0.001"),
    "us": Decimal(1),
    "\u00b5s": Decimal(1),  # MICRO SIGN, as Go accepts
    "\u03bcs": Decimal(1),  # GREEK SMALL LETTER MU, as Go accepts
    "ms": Decimal(1_000),
    "s": Decimal(1_000_000),
    "m": Decimal(60_000_000),
    "h": Decimal(3_600_000_000),
    "d": Decimal(86_400_000_000),
}

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)"
_BARE_NUMBER = re.compile(_NUMBER, re.ASCII)
_GROUP = re.compile(rf"({_NUMBER})([^\d.\s+-]*)", re.ASCII)

_FORMAT_UNITS: tuple[tuple[str, int], ...] = (
    ("d", 86_400_000_000),
    ("h", 3_600_000_000),
    ("m", 60_000_000),
    ("s", 1_000_000),
    ("ms", 1_000),
    ("us", 1),
)


def parse_duration(text: str) -> timedelta:
    """Parse ``text`` such as ``"10s"``, ``"1d10h30m"``, ``"1.5s"`` or ``"30"`` (seconds).

    Raises ValueError saying what is wrong (empty, negative, unknown unit, missing unit,
    garbage, longer than 100 years) and showing valid examples.
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"duration is empty; {_EXAMPLES}")
    if len(stripped) > MAX_TEXT_LENGTH:
        raise ValueError(
            f"duration is too long to be valid ({len(stripped)} characters, "
            f"at most {MAX_TEXT_LENGTH}); {_EXAMPLES}"
        )
    if stripped.startswith("-"):
        raise ValueError(f"duration {text!r} is negative; {_EXAMPLES}")
    if _BARE_NUMBER.fullmatch(stripped):
        micros = Decimal(stripped) * _MICROSECONDS_PER_UNIT["s"]
    else:
        micros = _sum_groups(stripped, text)
    return _to_timedelta(micros, text)


def _sum_groups(stripped: str, text: str) -> Decimal:
    total = Decimal(0)
    position = 0
    while position < len(stripped):
        match = _GROUP.match(stripped, position)
        if match is None:
            raise ValueError(
                f"invalid duration {text!r}: unexpected {stripped[position]!r} at position "
                f"{position + 1}; {_EXAMPLES}"
            )
        number, unit = match.groups()
        if not unit and match.end() < len(stripped):
            raise ValueError(
                f"invalid duration {text!r}: unexpected {stripped[match.end()]!r} at position "
                f"{match.end() + 1}; {_EXAMPLES}"
            )
        if not unit:
            raise ValueError(
                f"invalid duration {text!r}: the number {number!r} has no unit; {_EXAMPLES}"
            )
        if unit not in _MICROSECONDS_PER_UNIT:
            raise ValueError(f"invalid duration {text!r}: unknown unit {unit!r}; {_EXAMPLES}")
        total += Decimal(number) * _MICROSECONDS_PER_UNIT[unit]
        position = match.end()
    return total


def _to_timedelta(micros: Decimal, text: str) -> timedelta:
    limit = Decimal(MAX_DURATION // timedelta(microseconds=1))
    if micros > limit:
        raise ValueError(
            f"duration {text!r} is longer than 100 years, which is most likely a typo; {_EXAMPLES}"
        )
    whole = int(micros.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    return timedelta(microseconds=whole)


def format_duration(duration: timedelta) -> str:
    """Render ``duration`` in the grammar :func:`parse_duration` reads, e.g. ``"1h30m3s"``.

    Zero is ``"0s"``; sub-second parts use ``ms`` and ``us`` (``1.5 s`` is ``"1s500ms"``);
    a negative duration gets a leading ``-`` (which :func:`parse_duration` refuses).
    """
    micros = duration // timedelta(microseconds=1)
    if micros == 0:
        return "0s"
    sign = "-" if micros < 0 else ""
    remaining = abs(micros)
    parts: list[str] = []
    for unit, size in _FORMAT_UNITS:
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return sign + "".join(parts)
