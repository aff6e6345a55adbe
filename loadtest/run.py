"""The benchmark's one command: `python -m loadtest.run` (or `python loadtest/run.py`).

Parses the command line and hands it to loadtest.harness; `--help` lists every option and
loadtest/README.md says what each mode measures.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MODES = ("drain", "steady", "ramp", "backlog", "fanout")
QUICK = {
    "n": 1000,
    "rate": 200.0,
    "duration": 3.0,
    "backlog_sizes": "1000,2000",
    "backlog_measure": 1000,
    "ramp_start": 200.0,
    "ramp_factor": 2.0,
    "ramp_step_seconds": 2.0,
    "ramp_max_steps": 2,
    "phase_seconds": 20.0,
    "max_total_seconds": 50.0,
    "fanout": 4,
}


def _pause(text: str) -> tuple[float, float]:
    """`3/60` → (3.0, 60.0): pause for 3 seconds every 60."""
    try:
        seconds, every = (float(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected SECONDS/EVERY such as 3/60, got {text!r}"
        ) from None
    if not 0 < seconds < every:
        raise argparse.ArgumentTypeError(f"need 0 < SECONDS < EVERY, got {text!r}")
    return seconds, every


def _postgres_setting(text: str) -> tuple[str, str]:
    """`shared_buffers=2GB` → ("shared_buffers", "2GB")."""
    from loadtest.postgres import SETTING_NAME

    name, equals, value = text.partition("=")
    name = name.strip().lower()
    if not equals or not name or not value.strip():
        raise argparse.ArgumentTypeError(
            f"expected NAME=VALUE such as shared_buffers=2GB, got {text!r}"
        )
    if not SETTING_NAME.match(name):
        raise argparse.ArgumentTypeError(f"not a Postgres setting's name: {name!r}")
    return name, value.strip()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.run",
        description="Benchmark Wirepost beside pg-boss, graphile-worker and pgqueuer (127.0.0.1)",
    )
    parser.add_argument(
        "--modes", default="drain,steady", help=f"comma-separated, of: {', '.join(MODES)}"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run under a minute: every mode, tiny sizes, peers in drain only",
    )
    parser.add_argument(
        "--peers",
        default="pgboss,graphile,pgqueuer",
        help="comma-separated peers to run beside Wirepost, or 'none'",
    )
    parser.add_argument("-n", type=int, default=50_000, help="messages in drain (default 50000)")
    parser.add_argument("--rate", type=float, default=1000.0, help="steady rate, msg/s")
    parser.add_argument("--duration", type=float, default=10.0, help="steady duration, seconds")
    parser.add_argument("--backlog-sizes", default="1000,100000,1000000")
    parser.add_argument(
        "--backlog-measure",
        type=int,
        default=50_000,
        help="deliveries measured per backlog size (the rest is dropped with the database)",
    )
    parser.add_argument("--ramp-start", type=float, default=500.0)
    parser.add_argument("--ramp-factor", type=float, default=1.2)
    parser.add_argument("--ramp-step-seconds", type=float, default=10.0)
    parser.add_argument("--ramp-max-rate", type=float, default=50_000.0)
    parser.add_argument("--ramp-max-steps", type=int, default=18)
    parser.add_argument("--fanout", type=int, default=4, help="endpoints in the fan-out group")
    parser.add_argument(
        "--database-url",
        help="Postgres to use (superuser: creates and drops databases); default: embedded",
    )
    parser.add_argument("--target", help="a running Wirepost (base URL) instead of starting one")
    parser.add_argument("--token", help="bearer token of --target")
    parser.add_argument(
        "--target-pid", type=int, help="pid of the --target server, to meter its CPU and memory"
    )
    parser.add_argument(
        "--wirepost-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the self-started server (repeatable)",
    )
    parser.add_argument(
        "--peer-workers",
        type=int,
        default=1,
        metavar="K",
        help="drain and backlog: pg-boss and graphile-worker work in K processes each"
        " (compare with --wirepost-env WIREPOST_WORKERS=K)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="rounds per mode, queues interleaved; each queue's best round is reported, and with "
        "2 or more the ratios to the best peer round by round",
    )
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="before each phase, wait up to this long for other work on the machine to stop",
    )
    parser.add_argument("--phase-seconds", type=float, default=300.0, help="bound on each wait")
    parser.add_argument(
        "--pause-postgres",
        type=_pause,
        metavar="SECONDS/EVERY",
        help="steady: stop the run's embedded Postgres (SIGSTOP) for SECONDS every EVERY seconds"
        " while publishing, e.g. 3/60: how a queue rides out a database stall, and what it keeps",
    )
    parser.add_argument(
        "--postgres-setting",
        type=_postgres_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting of the embedded Postgres, applied with ALTER SYSTEM before the run"
        " (repeatable), e.g. shared_buffers=2GB: every queue runs on it, and the report says so",
    )
    parser.add_argument(
        "--max-total-seconds",
        type=float,
        default=3600.0,
        help="phases that would start after this are skipped",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a Wirepost phase failed, lost messages or sent bad signatures",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent / "results",
        help="where the JSON, Markdown, PNG and logs go",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.modes = ",".join(MODES)
        for name, value in QUICK.items():
            setattr(args, name, value)
    if args.peer_workers < 1:
        parser.error("--peer-workers must be 1 or more")
    if args.pause_postgres and (args.database_url or args.target):
        parser.error("--pause-postgres needs the embedded Postgres the run starts itself")
    if args.postgres_setting and (args.database_url or args.target):
        parser.error(
            "--postgres-setting configures the embedded Postgres the run starts itself;"
            " set your own server's settings in its postgresql.conf"
        )
    if args.target and not args.token:
        parser.error("--target needs --token")
    unknown = set(args.modes.split(",")) - set(MODES)
    if unknown:
        parser.error(f"unknown mode(s) {', '.join(sorted(unknown))}: choose from {MODES}")
    from loadtest.peer_process import PEERS

    unknown = {key.strip() for key in args.peers.split(",")} - {"", "none"} - set(PEERS)
    if unknown:
        parser.error(
            f"unknown peer(s) {', '.join(sorted(unknown))}:"
            f" choose from {', '.join(PEERS)}, or 'none'"
        )
    args.command = " ".join(["python -m loadtest.run", *(argv or sys.argv[1:])])
    return args


def main(argv: list[str] | None = None) -> int:
    if __package__ in (None, ""):  # run as a script: make `import loadtest` work
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from loadtest.harness import run_benchmark

    return run_benchmark(parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
