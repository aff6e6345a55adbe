"""The publish API's own cost: server CPU per message of `POST /v2/batch` and of single
publishes, with no delivery loop running (every message stays stored).

Each round starts a `wirepost serve` without a delivery loop on a fresh database, publishes
warm-up batches, then `--batches` batches of 1,000 (4 requests at a time) or `--singles` single
publishes (64 at a time) through the same lean client the benchmark's publishers use, and reads
the server's CPU time from /proc around them. `--repeat` runs the rounds again, interleaved, and
`--compare NAME=PYTHONPATH` adds a server run from another source tree (a `wirepost` package
folder on that path), so two versions are measured side by side on the same minute's machine.

    python -m loadtest.ingest_bench                          # embedded Postgres
    python -m loadtest.ingest_bench --repeat 2 --compare before=/tmp/before/pkg
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import uvloop

from loadtest import postgres, subprocesses
from loadtest.process_meter import ProcessMeter, cpu_between
from loadtest.publishers import Publisher, api_client, message_body
from loadtest.wirepost_server import WirepostLauncher

DESTINATION = "http://127.0.0.1:9/never-delivered"
HEADERS = {"Content-Type": "application/json"}
BATCH = 1000
WARM_UP_BATCHES = 5


@dataclass
class IngestResult:
    version: str
    kind: str
    messages: int
    seconds: float
    server_cpu_s: float

    def row(self) -> str:
        rate = self.messages / self.seconds
        per_message = 1e6 * self.server_cpu_s / self.messages
        core = 100 * self.server_cpu_s / self.seconds
        return (
            f"| {self.version} | {self.kind} | {self.messages:,} | {rate:,.0f} "
            f"| {per_message:.1f} | {core:.0f} |"
        )


async def _concurrently(count: int, workers: int, send: Callable[[int], Awaitable[None]]) -> None:
    numbers = iter(range(count))

    async def worker() -> None:
        for number in numbers:
            await send(number)

    await asyncio.gather(*(worker() for _ in range(workers)))


async def measure_once(
    args: argparse.Namespace, database_url: str, version: str, pythonpath: str | None
) -> list[IngestResult]:
    env = {"WIREPOST_RUN_DELIVERY": "false", "WIREPOST_RUN_SCHEDULER": "false"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    launcher = WirepostLauncher(Path(args.out), extra_env=env)
    server = await launcher.start_process(database_url, f"ingest_bench_{version}")
    assert server.process is not None
    client = api_client()
    publisher = Publisher(client, server.base_url, server.token)
    meter = ProcessMeter({"server": server.process.pid})

    async def one_batch(number: int) -> None:
        first = number * BATCH
        items = [
            {"destination": DESTINATION, "headers": HEADERS, "body": message_body(seq).decode()}
            for seq in range(first, first + BATCH)
        ]
        await publisher.batch(items)

    async def one_single(number: int) -> None:
        await publisher.publish(DESTINATION, message_body(number), HEADERS)

    results = []
    try:
        await _concurrently(WARM_UP_BATCHES, 1, one_batch)
        for kind, count, workers, send, per_call in (
            ("batch", args.batches, 4, one_batch, BATCH),
            ("single", args.singles, 64, one_single, 1),
        ):
            before = meter.snapshot()
            await _concurrently(count, workers, send)
            after = meter.snapshot()
            cpu = cpu_between(before, after)["server"]["cpu_s"]
            results.append(IngestResult(version, kind, count * per_call, after.at - before.at, cpu))
    finally:
        await client.close()
        await subprocesses.stop(server.process)
    return results


async def run(args: argparse.Namespace) -> None:
    versions: list[tuple[str, str | None]] = [("this", None)]
    for item in args.compare:
        name, _, path = item.partition("=")
        versions.append((name, path))
    rounds = [(r, name, path) for r in range(args.repeat) for name, path in versions]

    async def measure(url: str, setting: str) -> list[IngestResult]:
        _, name, path = rounds[int(setting)]
        return await measure_once(args, url, name, path)

    started = time.monotonic()
    results = await postgres.in_fresh_databases(
        args.database_url, "wp_ingest", [str(i) for i in range(len(rounds))], measure
    )
    print(
        f"`/v2/batch` ({args.batches} requests of {BATCH:,}, 4 at a time) and single publishes "
        f"({args.singles:,}, 64 at a time), no delivery loop; {len(rounds)} rounds in "
        f"{time.monotonic() - started:.0f} s\n\n"
        "| server | kind | messages | msg/s | server µs CPU/msg | server core % |\n"
        "|---|---|---|---|---|---|"
    )
    for round_results in results:
        for result in round_results:
            print(result.row())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=150, help="batches of 1,000 (150)")
    parser.add_argument("--singles", type=int, default=30_000, help="single publishes (30,000)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of each server (1)")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=PYTHONPATH",
        help="also measure the wirepost package found on PYTHONPATH (repeatable)",
    )
    parser.add_argument("--database-url", help="a Postgres to use instead of an embedded one")
    parser.add_argument("--out", default="loadtest/results", help="where server logs go")
    return parser.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(run(parse_args()))
