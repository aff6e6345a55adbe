"""The benchmark's ramp (loadtest/modes/ramp.py), driven by made-up steps: no server, no I/O."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from loadtest.modes.ramp import ramp
from loadtest.report import markdown, wirepost_problems


def _steps_passing_up_to(limit: float) -> tuple[list[float], Any]:
    asked: list[float] = []

    async def step(rate: float, seconds: float) -> dict[str, Any]:
        asked.append(rate)
        published = rate if rate <= limit else rate * 0.7
        return {"target_rate": rate, "ingest": {"rate": published}, "backlog_at_end": 0}

    return asked, step


def _ramp(step: Any, max_steps: int) -> dict[str, Any]:
    return asyncio.run(
        ramp(step, start_rate=500, factor=2, step_seconds=1, max_rate=50_000, max_steps=max_steps)
    )


@pytest.mark.parametrize(
    ("limit", "max_steps", "best", "found"),
    [(1_500, 10, 1_000, True), (1_000_000, 3, 2_000, False)],
    ids=["a-step-fails", "every-step-passes"],
)
def test_the_ramp_stops_at_the_first_failing_step_or_when_its_steps_run_out(
    limit: float, max_steps: int, best: float, found: bool
) -> None:
    asked, step = _steps_passing_up_to(limit)
    outcome = _ramp(step, max_steps=max_steps)
    assert asked == [500, 1_000, 2_000]
    assert outcome["highest_sustained_rate"] == best
    assert outcome["limit_found"] is found
    assert ("notes" in outcome) is not found  # only a floor is worth a note


def test_a_ramp_that_passes_every_step_says_in_the_report_its_answer_is_a_floor() -> None:
    _, step = _steps_passing_up_to(1_000_000)
    outcome = _ramp(step, max_steps=3)
    run = {
        "started_at": "t",
        "command": "c",
        "machine": {},
        "ratios": {},
        "groups": {"ramp": [{"queue": "wirepost", "mode": "ramp", **outcome}]},
    }
    assert "the limit lies higher" in markdown(run)
    assert wirepost_problems(run) == []  # a floor is not a failure of the run
