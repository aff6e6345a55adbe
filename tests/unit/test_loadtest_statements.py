"""The benchmark's SQL figures from two pg_stat_statements readings (loadtest/postgres.py; pure)."""

from __future__ import annotations

from typing import Any

from loadtest.postgres import claim_query, statement_lists, statements_between

CLAIM = "WITH due AS (SELECT ctid FROM deliveries WHERE available_at <= $1 FOR UPDATE SKIP LOCKED)"
INSERT = "INSERT INTO messages (id, body) SELECT * FROM unnest($1::text[], $2::bytea[])"


def _totals(**by_id: tuple[str, int, float, int]) -> dict[str, Any]:
    return {
        query_id: {
            "query": query,
            "calls": calls,
            "total_exec_time": ms,
            "rows": rows,
            "shared_blks_read": calls * 20,
            "shared_blks_written": calls * 3,
        }
        for query_id, (query, calls, ms, rows) in by_id.items()
    }


def test_only_what_ran_between_the_readings_counts() -> None:
    # Before deliveries began: 36 empty claims while the backlog was published (1 s polls).
    start = _totals(a=(CLAIM, 36, 180.0, 0), b=(INSERT, 1_000, 9_000.0, 1_000_000))
    end = _totals(
        a=(CLAIM, 36 + 125, 180.0 + 550.0, 50_000),
        b=(INSERT, 1_000, 9_000.0, 1_000_000),
        c=("SELECT 1", 3, 0.3, 3),
    )
    ran = statements_between(start, end)
    assert sorted((s["query"], s["calls"], s["rows"]) for s in ran) == [
        ("SELECT 1", 3, 3),
        (CLAIM, 125, 50_000),
    ]
    claim = claim_query(ran)
    assert claim is not None
    assert (claim["calls"], claim["mean_ms"], claim["rows_per_call"], claim["us_per_row"]) == (
        125,
        4.4,
        400.0,
        11.0,
    )
    assert (claim["shared_blks_read"], claim["shared_blks_written"]) == (125 * 20, 125 * 3)
    # Counted from the database's creation, the empty claims would have added 33 % a row.
    assert claim_query(statements_between({}, end))["us_per_row"] == 14.6  # type: ignore[index]


def test_the_claim_is_the_skip_locked_statement_run_most_often() -> None:
    rare = "SELECT id FROM gates FOR UPDATE SKIP LOCKED"
    ran = statements_between(
        {}, _totals(a=(rare, 2, 50.0, 2), b=(CLAIM, 10, 20.0, 0), c=(INSERT, 99, 1.0, 99))
    )
    claim = claim_query(ran)
    assert claim is not None
    assert claim["query"].startswith("WITH due AS")
    assert claim["us_per_row"] is None  # claims that found nothing: no time a row
    assert claim_query(statements_between({}, _totals(c=(INSERT, 1, 1.0, 1)))) is None


def test_statement_lists_rank_by_time_and_by_calls() -> None:
    ran = statements_between(
        {}, _totals(**{f"q{i}": (f"SELECT {i}", 10 - i, float(i), 0) for i in range(7)})
    )
    lists = statement_lists(ran)
    assert [s["query"] for s in lists["top_statements"]] == [f"SELECT {i}" for i in (6, 5, 4, 3, 2)]
    assert [s["calls"] for s in lists["most_called_statements"]] == [10, 9, 8, 7, 6]
