"""The benchmark report's round-by-round ratios (loadtest/report.py; pure, no I/O)."""

from __future__ import annotations

from typing import Any

from loadtest.report import add_round_ratios, cpu_per_message, markdown, round_ratios


def _result(
    queue: str, rates: list[float | None], middle: list[float] | None = None
) -> dict[str, Any]:
    rounds: list[dict[str, Any]] = [{"delivery_rate": rate} for rate in rates]
    for entry, rate in zip(rounds, middle or [], strict=False):
        entry["middle_rate"] = rate
    return {
        "queue": queue,
        "mode": "drain",
        "delivery_rate": max(r or 0 for r in rates),
        "rounds": rounds,
    }


def test_each_round_is_compared_with_the_best_peer_of_that_round() -> None:
    results = [
        _result("wirepost", [12_000, 9_000, 15_000]),
        _result("graphile-worker", [8_000, 6_000, 12_000]),
        _result("pg-boss", [6_000, 7_500, 5_000]),
    ]
    # Best rounds alone would say 15,000 / 12,000 = 1.25; round by round it is 1.5, 1.2, 1.25.
    assert round_ratios(results, "delivery_rate") == [1.5, 1.2, 1.25]
    assert add_round_ratios({"drain": results}) == {
        "drain": {"delivery_rate": {"per_round": [1.5, 1.2, 1.25], "median": 1.25}}
    }


def test_no_pairing_without_repeated_rounds_on_both_sides() -> None:
    single = [_result("wirepost", [10_000]), _result("pg-boss", [5_000])]
    assert round_ratios(single, "delivery_rate") is None
    uneven = [_result("wirepost", [10_000, 11_000]), _result("pg-boss", [5_000])]
    assert round_ratios(uneven, "delivery_rate") is None
    alone = [_result("wirepost", [10_000, 11_000])]
    assert round_ratios(alone, "delivery_rate") is None
    assert add_round_ratios({"drain": alone}) == {}


def test_a_failed_round_voids_the_pairing_rather_than_counting_as_zero() -> None:
    results = [_result("wirepost", [10_000, None]), _result("pg-boss", [5_000, 5_000])]
    assert round_ratios(results, "delivery_rate") is None
    results = [_result("wirepost", [10_000, 10_000]), _result("pg-boss", [5_000, 0])]
    assert round_ratios(results, "delivery_rate") is None


def test_the_markdown_lists_every_round_and_the_median() -> None:
    results = [
        _result("wirepost", [12_000, 9_000], middle=[11_000, 9_900]),
        _result("graphile-worker", [8_000, 6_000], middle=[10_000, 6_600]),
    ]
    groups = {"drain": results}
    run = {
        "started_at": "t",
        "command": "c",
        "machine": {},
        "groups": groups,
        "ratios": {},
        "round_ratios": add_round_ratios(groups),
    }
    assert (
        "- Wirepost ÷ best peer round by round: delivered 1.50x, 1.50x (median 1.50x); "
        "middle 80 % 1.10x, 1.50x (median 1.30x)"
    ) in markdown(run)


def _costed(queue: str, messages: int, **cpu_s: float) -> dict[str, Any]:
    return {
        "queue": queue,
        "mode": "drain",
        "messages": messages,
        "cpu": {role: {"cpu_s": seconds, "core_pct": 0.0} for role, seconds in cpu_s.items()},
    }


def test_cpu_per_message_divides_each_process_by_the_messages_delivered() -> None:
    result = _costed("wirepost", 50_000, server=2.35, postgres=1.24, sink=1.32, machine=4.91)
    assert cpu_per_message(result) == {
        "server": 47.0,
        "postgres": 24.8,
        "sink": 26.4,
        "measured": 98.2,
    }
    assert cpu_per_message(_costed("pg-boss", 0, server=1.0, postgres=1.0, sink=1.0)) is None
    assert cpu_per_message(_costed("pg-boss", 10, server=1.0, postgres=1.0)) is None


def test_the_markdown_lists_cpu_per_message_under_delivery_modes_only() -> None:
    drain = [
        _costed("wirepost", 50_000, server=2.35, postgres=1.24, sink=1.32),
        _costed("graphile-worker", 50_000, server=2.95, postgres=1.40, sink=0.73),
    ]
    steady = [{**_costed("wirepost", 10_000, server=5.0, postgres=3.0, sink=1.0), "mode": "steady"}]
    groups = {"drain": drain, "steady": steady}
    run = {"started_at": "t", "command": "c", "machine": {}, "groups": groups, "ratios": {}}
    text = markdown(run)
    assert (
        "- CPU µs per delivered message (server / postgres / sink / together): "
        "wirepost 47 / 25 / 26 / 98; graphile-worker 59 / 28 / 15 / 102"
    ) in text
    assert text.count("CPU µs per delivered message") == 1
