"""Ramp: run steady steps at rising rates until the queue falls behind.

A step is sustained when every publish succeeded, the publishers reached 95 % of the target rate
and, when publishing stopped, no more than one second's worth of messages was still undelivered.
The answer is the highest sustained rate. Each step is a full steady phase (fresh database and
process), so one overloaded step cannot slow the next. When every step is sustained the ramp has
not found the limit, only a floor under it: the result says so (`limit_found` false, and a note
in the report).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

SteadyStep = Callable[[float, float], Awaitable[dict[str, Any]]]


def sustained(step: dict[str, Any]) -> bool:
    ingest = step.get("ingest") or {}
    rate = float(step["target_rate"])
    achieved = float(ingest.get("rate") or 0)
    return (
        not ingest.get("failures")
        and achieved >= 0.95 * rate
        and step.get("backlog_at_end", 0) <= max(rate, 100)
    )


async def ramp(
    run_step: SteadyStep,
    *,
    start_rate: float,
    factor: float,
    step_seconds: float,
    max_rate: float,
    max_steps: int,
) -> dict[str, Any]:
    steps: list[dict[str, Any]] = []
    best: float | None = None
    rate = start_rate
    while len(steps) < max_steps and rate <= max_rate:
        step = await run_step(rate, step_seconds)
        ok = sustained(step)
        steps.append({**_step_summary(step), "sustained": ok})
        if not ok:
            break
        best = rate
        rate = round(rate * factor)
    limit_found = bool(steps) and not steps[-1]["sustained"]
    outcome: dict[str, Any] = {
        "highest_sustained_rate": best,
        "limit_found": limit_found,
        "steps": steps,
        "last_step": steps[-1] if steps else {},
    }
    if steps and not limit_found:
        outcome["notes"] = [
            f"every step was sustained, the last at {best:,.0f} msg/s: the limit lies higher "
            "(raise --ramp-max-steps or --ramp-start to find it)"
        ]
    return outcome


def _step_summary(step: dict[str, Any]) -> dict[str, Any]:
    ingest = step.get("ingest") or {}
    return {
        "target_rate": step["target_rate"],
        "publish_rate": ingest.get("rate"),
        "failures": ingest.get("failures"),
        "backlog_at_end": step.get("backlog_at_end"),
        "publish_latency_ms": step.get("publish_latency_ms"),
        "latency_ms": step.get("latency_ms"),
        "cpu": step.get("cpu"),
        "notes": step.get("notes", []),
    }
