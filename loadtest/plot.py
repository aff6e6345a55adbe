"""A PNG of a run over time: deliveries per second (drain) and latency per second (steady).

matplotlib is optional (loadtest/requirements.txt); without it `plot_run` returns None.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def plot_run(run: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    drain = run["groups"].get("drain", [])
    steady = run["groups"].get("steady", [])
    panels = [p for p in (drain, steady) if any(r.get("timeline") for r in p)]
    if not panels:
        return None
    figure, axes = plt.subplots(len(panels), 1, figsize=(10, 4.2 * len(panels)), squeeze=False)
    row = 0
    if drain in panels:
        axis = axes[row][0]
        for result in drain:
            timeline = result.get("timeline") or []
            axis.plot(
                [b["t_s"] for b in timeline],
                [b["rate"] for b in timeline],
                marker=".",
                label=result["queue"],
            )
        axis.set(
            title="drain: deliveries per second",
            xlabel="seconds since first delivery",
            ylabel="deliveries/s",
        )
        axis.legend()
        axis.grid(alpha=0.3)
        row += 1
    if steady in panels:
        axis = axes[row][0]
        for result in steady:
            timeline = result.get("timeline") or []
            seconds = [b["t_s"] for b in timeline]
            line = axis.plot(seconds, [b["p99"] for b in timeline], label=f"{result['queue']} p99")
            axis.plot(
                seconds,
                [b["p50"] for b in timeline],
                linestyle="--",
                color=line[0].get_color(),
                label=f"{result['queue']} p50",
            )
        rates = {r["target_rate"] for r in steady if r.get("target_rate")}  # none if it failed
        axis.set(
            title=f"steady {max(rates, default=0):g} msg/s: publish→receive latency",
            yscale="log",
            xlabel="seconds since first delivery",
            ylabel="ms",
        )
        axis.legend(ncol=2, fontsize="small")
        axis.grid(alpha=0.3, which="both")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
