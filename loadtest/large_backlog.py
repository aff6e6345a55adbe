"""Server memory while it delivers a backlog of large messages, with and without the byte budget
of deliveries in flight (WIREPOST_DELIVERY_MAX_BYTES).

For each setting it publishes `-n` messages of `--body-mib` MiB through a `wirepost serve`
without a delivery loop (so they all wait), then starts a second server with the delivery loop
on the same database and samples its resident memory until a local receiver, which answers each
delivery after `--receiver-delay` seconds, has them all. Without a budget the loop claims 400 at
a time and keeps up to 800 in flight, whatever their size.

    python -m loadtest.large_backlog                 # embedded Postgres, 150 messages of 4.8 MiB
    python -m loadtest.large_backlog -n 60 --body-mib 9 --database-url postgresql://...

The role behind `--database-url` must be able to create databases.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import uvloop
from aiohttp import web

from loadtest import postgres, subprocesses
from loadtest.process_meter import ProcessMeter
from loadtest.wirepost_server import WirepostLauncher

UNBOUNDED = str(2**62)
SETTINGS = ("bounded", "unbounded")
SAMPLE_EVERY = 0.1


@dataclass
class BacklogResult:
    setting: str
    delivered: int
    seconds: float
    most_in_flight: int
    rss_peak_mib: float

    def row(self) -> str:
        return (
            f"| {self.setting} | {self.delivered:,} | {self.seconds:.1f} | {self.most_in_flight} "
            f"| {self.rss_peak_mib:.0f} |"
        )


class SlowReceiver:
    """Answers every POST after `delay` seconds; counts deliveries and the most at once."""

    def __init__(self, delay: float, max_body: int) -> None:
        self.delay = delay
        self.received = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.app = web.Application(client_max_size=max_body)
        self.app.router.add_post("/{tail:.*}", self.receive)

    async def receive(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await request.read()
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        self.received += 1
        return web.Response(text="ok")


async def drain(args: argparse.Namespace, database_url: str, setting: str) -> BacklogResult:
    size = int(args.body_mib * 1024 * 1024)
    receiver = SlowReceiver(args.receiver_delay, size + 1024)
    runner = web.AppRunner(receiver.app, access_log=None)
    await runner.setup()
    port = subprocesses.free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    env = {"WIREPOST_MAX_BODY_SIZE": str(size)}
    if setting == "unbounded":
        env["WIREPOST_DELIVERY_MAX_BYTES"] = UNBOUNDED
    elif args.max_bytes is not None:
        env["WIREPOST_DELIVERY_MAX_BYTES"] = str(args.max_bytes)
    try:
        publisher = WirepostLauncher(
            Path(args.out), extra_env={**env, "WIREPOST_RUN_DELIVERY": "false"}
        )
        api = await publisher.start_process(database_url, f"large_backlog_{setting}_api")
        assert api.process is not None
        try:
            await _publish(api.base_url, api.token, f"http://127.0.0.1:{port}/hook", args.n, size)
        finally:
            await subprocesses.stop(api.process)
        launcher = WirepostLauncher(Path(args.out), extra_env=env)
        server = await launcher.start_process(database_url, f"large_backlog_{setting}")
        assert server.process is not None
        meter = ProcessMeter({"server": server.process.pid})
        started, peak = time.monotonic(), 0.0
        try:
            while receiver.received < args.n and time.monotonic() - started < args.within:
                peak = max(peak, meter.rss_mib("server"))
                await asyncio.sleep(SAMPLE_EVERY)
        finally:
            await subprocesses.stop(server.process)
        seconds = time.monotonic() - started
        return BacklogResult(setting, receiver.received, seconds, receiver.most_in_flight, peak)
    finally:
        await runner.cleanup()


async def _publish(base_url: str, token: str, destination: str, count: int, size: int) -> None:
    body = os.urandom(size)
    headers = {"Authorization": f"Bearer {token}", "Upstash-Retries": "0"}
    async with aiohttp.ClientSession() as session:
        for _ in range(count):
            url = f"{base_url}/v2/publish/{destination}"
            async with session.post(url, data=body, headers=headers) as response:
                if response.status != 201:
                    raise RuntimeError(
                        f"publish answered {response.status}: {await response.text()}"
                    )


async def measure(args: argparse.Namespace) -> list[BacklogResult]:
    """One drain with the budget (``--max-bytes`` or the server's default), one without."""
    return await postgres.in_fresh_databases(
        args.database_url,
        "wp_large_backlog",
        SETTINGS,
        lambda url, setting: drain(args, url, setting),
    )


async def run(args: argparse.Namespace) -> None:
    results = await measure(args)
    print(
        f"{args.n} waiting messages of {args.body_mib:g} MiB, the receiver answering each after "
        f"{args.receiver_delay:g} s\n\n| setting | delivered | seconds | most in flight "
        "| server RSS peak MiB |\n|---|---|---|---|---|"
    )
    for result in results:
        print(result.row())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=150, help="messages waiting (150)")
    parser.add_argument("--body-mib", type=float, default=4.8, help="body size in MiB (4.8)")
    parser.add_argument("--receiver-delay", type=float, default=0.5, help="seconds (0.5)")
    parser.add_argument("--max-bytes", type=int, help="budget of the bounded run (default)")
    parser.add_argument("--within", type=float, default=300, help="give up after (s)")
    parser.add_argument("--database-url", help="a Postgres to use instead of an embedded one")
    parser.add_argument("--out", default="loadtest/results", help="where server logs go")
    return parser.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(run(parse_args()))
