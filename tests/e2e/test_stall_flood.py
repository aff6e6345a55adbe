"""`python -m loadtest.stall_flood` end to end, small: a real `wirepost serve` process and a
locked messages table. With a bound of 5 messages the server refuses the rest with 503 and
stores 5; without one it stores every publish, including those whose clients gave up."""

from __future__ import annotations

from pathlib import Path

from loadtest.stall_flood import measure, parse_args


async def test_the_bound_refuses_past_it_and_no_bound_keeps_everything(
    pg_admin_dsn, tmp_path: Path
):
    args = parse_args(
        [
            *("--rate", "20", "--stall", "1.5", "--client-timeout", "0.5", "--body-kib", "1"),
            *("--max-pending-messages", "5", "--database-url", pg_admin_dsn),
            *("--out", str(tmp_path)),
        ]
    )
    bounded, unbounded = await measure(args)

    assert bounded.setting == "bounded"
    assert bounded.stored == 5
    assert bounded.answers["503"] == bounded.sent - 5
    assert bounded.answers["503"] >= 20  # 29 or 30 publishes sent in 1.5 s
    assert unbounded.setting == "unbounded"
    assert unbounded.stored == unbounded.sent >= 25
    assert "503" not in unbounded.answers
