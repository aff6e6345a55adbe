"""Server memory while the database stalls and publishes keep arriving, with and without the
bound on publishes waiting for their commit (WIREPOST_MAX_PENDING_MESSAGES / _BYTES).

For each setting it starts `wirepost serve` (API only) on a fresh database, holds the messages
table locked from another session (every insert waits, as on a stalled Postgres), publishes
open loop at `--rate` for `--stall` seconds with clients that give up after `--client-timeout`
seconds, and samples the server's resident memory. Then it releases the lock, waits for every
answer and counts the stored messages. What it shows: without the bound the server keeps every
publish that arrived, whether or not its client is still waiting; with it, the server answers
503 with Retry-After once the bound is reached and its memory stops growing.

    python -m loadtest.stall_flood                     # embedded Postgres, 400/s of 64 KiB, 20 s
    python -m loadtest.stall_flood --stall 40 --database-url postgresql://postgres@127.0.0.1/postgres

The role behind `--database-url` must be able to create databases.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg
import uvloop

from loadtest import postgres, subprocesses
from loadtest.process_meter import ProcessMeter
from loadtest.wirepost_server import WirepostLauncher
from wirepost.open_files import ensure_open_files

DESTINATION = "http://127.0.0.1:9/never-delivered"  # the server runs without a delivery loop
UNBOUNDED = {
    "WIREPOST_MAX_PENDING_MESSAGES": "1000000000",
    "WIREPOST_MAX_PENDING_BYTES": "1" + "0" * 15,
}
SETTINGS = ("bounded", "unbounded")
SAMPLE_EVERY = 0.25


@dataclass
class FloodResult:
    setting: str
    sent: int
    rss_before_mib: float
    rss_peak_mib: float
    rss_after_mib: float
    answers_during_stall: Counter[str]
    answers: Counter[str]
    stored: int

    def row(self) -> str:
        refused = self.answers.get("503", 0)
        return (
            f"| {self.setting} | {self.sent:,} | {refused:,} | {self.stored:,} "
            f"| {self.rss_before_mib:.1f} | {self.rss_peak_mib:.1f} "
            f"(+{self.rss_peak_mib - self.rss_before_mib:.1f}) | {self.rss_after_mib:.1f} "
            f"| {dict(self.answers)} |"
        )


async def flood(args: argparse.Namespace, database_url: str, setting: str) -> FloodResult:
    env = UNBOUNDED if setting == "unbounded" else _bound(args)
    launcher = WirepostLauncher(Path(args.out), extra_env={**env, "WIREPOST_RUN_DELIVERY": "false"})
    server = await launcher.start_process(database_url, f"stall_flood_{setting}")
    assert server.process is not None
    meter = ProcessMeter({"server": server.process.pid})
    lock = await asyncpg.connect(database_url)
    try:
        await lock.execute("BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE")
        before = peak = meter.rss_mib("server")
        answers: Counter[str] = Counter()
        body = b"x" * (args.body_kib * 1024)
        url = f"{server.base_url}/v2/publish/{DESTINATION}"
        headers = {"Authorization": f"Bearer {server.token}"}
        timeout = aiohttp.ClientTimeout(total=args.client_timeout)
        connector = aiohttp.TCPConnector(limit=0, force_close=True)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

            async def publish() -> None:
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        answers[str(response.status)] += 1
                except (TimeoutError, aiohttp.ClientError) as error:
                    answers[type(error).__name__] += 1

            tasks: set[asyncio.Task[None]] = set()
            sent, start, sampled = 0, time.monotonic(), 0.0
            while (elapsed := time.monotonic() - start) < args.stall:
                while sent < int(elapsed * args.rate):
                    task = asyncio.create_task(publish())
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    sent += 1
                if elapsed - sampled >= SAMPLE_EVERY:
                    peak, sampled = max(peak, meter.rss_mib("server")), elapsed
                await asyncio.sleep(0.005)
            peak = max(peak, meter.rss_mib("server"))
            during = answers.copy()
            await lock.execute("ROLLBACK")
            await asyncio.gather(*tasks)
        stored = await _settled_count(lock)
        return FloodResult(
            setting, sent, before, peak, meter.rss_mib("server"), during, answers, stored
        )
    finally:
        await lock.close()
        await subprocesses.stop(server.process)


def _bound(args: argparse.Namespace) -> dict[str, str]:
    """The bound of the "bounded" run: the server's defaults unless given."""
    env = {}
    if args.max_pending_messages is not None:
        env["WIREPOST_MAX_PENDING_MESSAGES"] = str(args.max_pending_messages)
    if args.max_pending_bytes is not None:
        env["WIREPOST_MAX_PENDING_BYTES"] = str(args.max_pending_bytes)
    return env


async def _settled_count(connection: asyncpg.Connection, *, within: float = 120) -> int:
    """The stored messages once the count has not changed for two seconds: publishes whose
    clients gave up are still committed by the server after the stall."""
    count, deadline = -1, time.monotonic() + within
    while time.monotonic() < deadline:
        now = await connection.fetchval("SELECT count(*) FROM messages")
        if now == count:
            break
        count = now
        await asyncio.sleep(2)
    return int(count)


async def measure(args: argparse.Namespace) -> list[FloodResult]:
    """One flood with the bound (``--max-pending-*`` or the server's defaults), one without."""
    # A socket per publish waiting, here and in the server (which inherits the limit).
    ensure_open_files(int(args.rate * args.client_timeout) + 512)
    return await postgres.in_fresh_databases(
        args.database_url,
        "wp_stall_flood",
        SETTINGS,
        lambda url, setting: flood(args, url, setting),
    )


async def run(args: argparse.Namespace) -> None:
    results = await measure(args)
    print(
        f"{args.rate:g} publishes/s of {args.body_kib} KiB for {args.stall:g} s of a locked "
        f"messages table, clients giving up after {args.client_timeout:g} s\n\n"
        "| setting | sent | refused (503) | stored | RSS before MiB | RSS peak MiB "
        "| RSS after MiB | answers |\n|---|---|---|---|---|---|---|---|"
    )
    for result in results:
        print(result.row())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=400, help="publishes a second (400)")
    parser.add_argument("--body-kib", type=int, default=64, help="body size in KiB (64)")
    parser.add_argument("--stall", type=float, default=20, help="seconds the table is locked")
    parser.add_argument("--client-timeout", type=float, default=5, help="seconds (5)")
    parser.add_argument("--max-pending-messages", type=int, help="bound (server default)")
    parser.add_argument("--max-pending-bytes", type=int, help="bound (server default)")
    parser.add_argument("--database-url", help="a Postgres to use instead of an embedded one")
    parser.add_argument("--out", default="loadtest/results", help="where server logs go")
    return parser.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(run(parse_args()))
