"""The run's PNG is drawn even when a queue's phase failed and left no result behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.plot import plot_run

pytest.importorskip("matplotlib")


def test_a_steady_group_whose_first_queue_failed_still_plots(tmp_path: Path) -> None:
    timeline = [{"t_s": s, "p50": 4.0 + s, "p99": 9.0 + s, "rate": 1000.0} for s in range(5)]
    run = {
        "groups": {
            "drain": [{"queue": "wirepost", "timeline": timeline}],
            "steady": [
                {"queue": "wirepost", "mode": "steady", "error": "RuntimeError: never came up"},
                {"queue": "pg-boss", "mode": "steady", "target_rate": 1000.0, "timeline": timeline},
            ],
        }
    }
    png = plot_run(run, tmp_path / "run.png")
    assert png is not None
    assert png.read_bytes().startswith(b"\x89PNG")
