"""Percentile summaries of latency samples. Pure: no I/O, no clocks."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence


def percentile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of values already sorted ascending; None when empty."""
    if not sorted_values:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be between 0 and 100, got {q}")
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return float(sorted_values[rank - 1])


def summarize(values: Iterable[float]) -> dict[str, float | int | None]:
    """Count, p50, p95, p99 and max of the values (milliseconds in, milliseconds out)."""
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50": _rounded(percentile(ordered, 50)),
        "p95": _rounded(percentile(ordered, 95)),
        "p99": _rounded(percentile(ordered, 99)),
        "max": _rounded(ordered[-1] if ordered else None),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
