"""`python -m loadtest.large_backlog` end to end, small: real `wirepost serve` processes. With a
2 MiB budget two 1 MiB deliveries are in flight at most; without one all six go out at once."""

from __future__ import annotations

from pathlib import Path

from loadtest.large_backlog import measure, parse_args


async def test_the_byte_budget_limits_large_deliveries_in_flight(pg_admin_dsn, tmp_path: Path):
    args = parse_args(
        [
            *("-n", "6", "--body-mib", "1", "--receiver-delay", "0.3"),
            *("--max-bytes", str(2 * 1024 * 1024), "--within", "60"),
            *("--database-url", pg_admin_dsn, "--out", str(tmp_path)),
        ]
    )
    bounded, unbounded = await measure(args)

    assert (bounded.setting, bounded.delivered, bounded.most_in_flight) == ("bounded", 6, 2)
    assert (unbounded.setting, unbounded.delivered, unbounded.most_in_flight) == ("unbounded", 6, 6)
