"""Turn a run's results into ratios against the best peer, a JSON file and a Markdown table.

Pure apart from `write_report`: the figures come in as plain dicts (one per queue and mode).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WIREPOST = "wirepost"


@dataclass(frozen=True)
class Metric:
    path: str  # dotted path into a result dict
    label: str
    higher_is_better: bool
    compared: bool = True  # False: context only, no ratio to the best peer


RATES = [
    Metric("delivery_rate", "delivered msg/s", True),
    Metric("middle_rate", "middle 80 % msg/s", True),
    Metric("ingest.rate", "ingest msg/s", True),
]
E2E = [
    Metric("latency_ms.p50", "pub→recv p50 ms", False),
    Metric("latency_ms.p95", "pub→recv p95 ms", False),
    Metric("latency_ms.p99", "pub→recv p99 ms", False),
]
PUBLISH = [
    Metric("publish_latency_ms.p50", "publish p50 ms", False),
    Metric("publish_latency_ms.p95", "publish p95 ms", False),
    Metric("publish_latency_ms.p99", "publish p99 ms", False),
]
COSTS = [
    Metric("cpu_ms_per_message", "CPU ms/msg (all)", False),
    Metric("cpu.server.core_pct", "server CPU %", False),
    Metric("cpu.postgres.core_pct", "postgres CPU %", False),
    Metric("cpu.sink.core_pct", "sink CPU %", False),
    # The peers enqueue in their own process: the harness is their load generator only in name.
    Metric("cpu.load generator.core_pct", "loadgen CPU %", False, compared=False),
    Metric("cpu.other.core_pct", "other procs CPU %", False, compared=False),
    # The machine, not the queue: time some task waited for a CPU; time every task waited on IO.
    Metric("pressure.cpu_some_pct", "CPU pressure %", False, compared=False),
    Metric("pressure.io_full_pct", "IO stall %", False, compared=False),
    Metric("sql.statements_per_message", "SQL stmts/msg", False),
    Metric("sql.xact_commit_per_message", "commits/msg", False),
    Metric("server_rss_mib", "server RSS MiB", False),
]
METRICS_BY_MODE = {
    "drain": [*RATES, *COSTS],
    "fanout": [*RATES, *E2E, *COSTS],
    "backlog": [
        *RATES,
        Metric("sql.claim_query.mean_ms", "claim query ms", False),
        Metric("sql.claim_query.us_per_row", "claim µs/row", False),
        *COSTS,
    ],
    "steady": [
        Metric("ingest.rate", "published msg/s", True),
        *PUBLISH,
        *E2E,
        Metric("backlog_at_end", "backlog at end", False, compared=False),  # often 0 or 1
        *COSTS,
        Metric("server_rss_growth_mib", "RSS growth MiB", False, compared=False),
    ],
    "ramp": [Metric("highest_sustained_rate", "highest sustained msg/s", True)],
}


def lookup(result: dict[str, Any], path: str) -> float | None:
    value: Any = result
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) else None


def ratio_to_best_peer(
    results: Iterable[dict[str, Any]], metric: Metric
) -> tuple[float | None, str | None]:
    """Wirepost's value over the best peer's (best = highest or lowest as the metric wants)."""
    results = list(results)
    ours = next((lookup(r, metric.path) for r in results if r["queue"] == WIREPOST), None)
    peers = [
        (value, r["queue"])
        for r in results
        if r["queue"] != WIREPOST and (value := lookup(r, metric.path)) is not None
    ]
    if ours is None or not peers:
        return None, None
    best, name = (max if metric.higher_is_better else min)(peers)
    if best == 0:
        return None, name
    return round(ours / best, 3), name


def add_ratios(groups: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per group (a mode, or a backlog size), every metric's ratio to the best peer."""
    ratios: dict[str, dict[str, Any]] = {}
    for group, results in groups.items():
        mode = results[0]["mode"] if results else group
        ratios[group] = {}
        for metric in METRICS_BY_MODE.get(mode, []):
            if not metric.compared:
                continue
            value, peer = ratio_to_best_peer(results, metric)
            if value is not None:
                ratios[group][metric.path] = {"ratio": value, "best_peer": peer}
    return ratios


ROUND_RATES = {"delivery_rate": "delivered", "middle_rate": "middle 80 %"}
"""Rates kept per round (see harness.best_round) and compared round by round, with their label."""


def round_ratios(results: Iterable[dict[str, Any]], key: str) -> list[float] | None:
    """Wirepost's `key` rate over the best peer's, round by round, for a `--repeat` run.

    The machine's speed drifts by tens of percent over minutes, and each queue's best round
    may come from a fast minute or a slow one; a round runs every queue back to back, so the
    ratio within one round compares them on nearly the same machine. None unless Wirepost and
    at least one peer have the same number of rounds (more than one).
    """
    results = list(results)
    ours = next((r.get("rounds") for r in results if r["queue"] == WIREPOST), None)
    theirs = [r.get("rounds") for r in results if r["queue"] != WIREPOST]
    if not ours or len(ours) < 2 or not theirs:
        return None
    if any(rounds is None or len(rounds) != len(ours) for rounds in theirs):
        return None
    ratios = []
    for index, our_round in enumerate(ours):
        peer_rates = [rounds[index].get(key) or 0 for rounds in theirs]
        best = max(peer_rates)
        if not our_round.get(key) or best <= 0:
            return None  # a failed round: no pairing to report
        ratios.append(round(our_round[key] / best, 3))
    return ratios


def add_round_ratios(groups: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per group, the round-by-round ratios of each rate and their median (see round_ratios)."""
    out: dict[str, dict[str, Any]] = {}
    for group, results in groups.items():
        for key in ROUND_RATES:
            ratios = round_ratios(results, key)
            if ratios:
                out.setdefault(group, {})[key] = {
                    "per_round": ratios,
                    "median": round(statistics.median(ratios), 3),
                }
    return out


def _round_ratio_line(paired: dict[str, Any]) -> str:
    parts = [
        f"{label} "
        + ", ".join(f"{ratio:.2f}x" for ratio in paired[key]["per_round"])
        + f" (median {paired[key]['median']:.2f}x)"
        for key, label in ROUND_RATES.items()
        if key in paired
    ]
    return "\n- Wirepost ÷ best peer round by round: " + "; ".join(parts)


PER_MESSAGE_ROLES = ("server", "postgres", "sink")
"""Processes whose CPU per delivered message is listed under the tables of delivery modes."""
DELIVERY_MODES = frozenset({"drain", "backlog", "fanout"})


def cpu_per_message(result: dict[str, Any]) -> dict[str, float] | None:
    """µs of CPU per delivered message of the server, Postgres, the sink and all of them
    together ("measured"), from the phase's CPU seconds; None without a count or CPU figures.

    Rates depend on how much of the machine a queue can use; this is what each message costs,
    which shows where a queue's lead comes from (less work, or more of the machine used)."""
    usage = result.get("cpu")
    messages = result.get("messages")
    if not isinstance(usage, dict) or not messages:
        return None
    per_message = {
        role: round(1e6 * usage[role]["cpu_s"] / messages, 1)
        for role in PER_MESSAGE_ROLES
        if role in usage
    }
    if len(per_message) != len(PER_MESSAGE_ROLES):
        return None
    per_message["measured"] = round(sum(per_message.values()), 1)
    return per_message


def _cpu_per_message_line(results: list[dict[str, Any]]) -> str | None:
    parts = []
    for result in results:
        costs = cpu_per_message(result)
        if costs is not None:
            figures = " / ".join(f"{costs[role]:.0f}" for role in (*PER_MESSAGE_ROLES, "measured"))
            parts.append(f"{result['queue']} {figures}")
    if not parts:
        return None
    roles = " / ".join((*PER_MESSAGE_ROLES, "together"))
    return f"\n- CPU µs per delivered message ({roles}): " + "; ".join(parts)


def _cell(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


def markdown(run: dict[str, Any]) -> str:
    lines = [f"# Wirepost benchmark, {run['started_at']}", "", f"`{run['command']}`", ""]
    lines += [f"- {key}: {value}" for key, value in run["machine"].items()]
    for note in run.get("notes", []):
        lines.append(f"- note: {note}")
    for group, results in run["groups"].items():
        mode = results[0]["mode"] if results else group
        metrics = METRICS_BY_MODE.get(mode, [])
        lines += ["", f"## {group}", ""]
        lines.append("| queue | " + " | ".join(m.label for m in metrics) + " |")
        lines.append("|---" * (len(metrics) + 1) + "|")
        for result in results:
            cells = [_cell(lookup(result, m.path)) for m in metrics]
            lines.append(f"| {result['queue']} | " + " | ".join(cells) + " |")
        ratios = run["ratios"].get(group, {})
        if ratios:
            cells = [
                f"{ratios[m.path]['ratio']:.2f}x" if m.path in ratios else "-" for m in metrics
            ]
            lines.append("| **Wirepost ÷ best peer** | " + " | ".join(cells) + " |")
        paired = run.get("round_ratios", {}).get(group)
        if paired:
            lines.append(_round_ratio_line(paired))
        costs_line = _cpu_per_message_line(results) if mode in DELIVERY_MODES else None
        if costs_line:
            lines.append(costs_line)
        for result in results:
            for note in result.get("notes", []):
                lines.append(f"\n- {result['queue']}: {note}")
            if "skipped" in result:
                lines.append(f"\n- {result['queue']}: skipped: {result['skipped']}")
    lines.append("")
    return "\n".join(lines)


def wirepost_problems(run: dict[str, Any]) -> list[str]:
    """What went wrong for Wirepost in a run (for --strict): errors, bad signatures, losses."""
    problems = []
    for group, results in run["groups"].items():
        for result in results:
            if result["queue"] != WIREPOST:
                continue
            if "error" in result:
                problems.append(f"{group}: {result.get('skipped', result['error'])}")
            deliveries = result.get("deliveries") or {}
            if deliveries.get("signature_failures"):
                problems.append(f"{group}: {deliveries['signature_failures']} bad signatures")
            problems += [f"{group}: {note}" for note in result.get("notes", []) if "only" in note]
    return problems


def write_report(run: dict[str, Any], directory: Path, stem: str) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / f"{stem}.json"
    md_path = directory / f"{stem}.md"
    json_path.write_text(json.dumps(run, indent=1, default=str))
    md_path.write_text(markdown(run))
    return json_path, md_path


def main(argv: list[str] | None = None) -> None:
    """`python -m loadtest.report RESULT.json`: rebuild the ratios and the Markdown of a run."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("result", type=Path)
    path = parser.parse_args(argv).result
    run = json.loads(path.read_text())
    run["ratios"] = add_ratios(run["groups"])
    run["round_ratios"] = add_round_ratios(run["groups"])
    write_report(run, path.parent, path.stem)
    print(path.with_suffix(".md").read_text())


if __name__ == "__main__":
    main()
