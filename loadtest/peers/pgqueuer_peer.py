"""pgqueuer (PyPI) as a peer: jobs enqueued through its API, a QueueManager POSTs each to the sink.

Tuned as measured in ENVIRONMENT.md: `run(batch_size=100)`, one entrypoint, enqueue in batches of
1,000. Same command line and JSON-line reports as the Node peers (see peer_kit.mjs):
`python pgqueuer_peer.py --database-url URL --sink-url URL [--mode drain|steady] [-n N] ...`
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import asyncpg
from pgqueuer import AsyncpgDriver, AsyncpgPoolDriver, Queries, QueueManager
from pgqueuer.models import Job

ENTRYPOINT = "deliver"


def report(event: str, **fields: Any) -> None:
    sys.stdout.write(json.dumps({"event": event, **fields}) + "\n")
    sys.stdout.flush()


def job_body(seq: int) -> bytes:
    return json.dumps({"t": time.time_ns(), "seq": seq}).encode()


def summarize(values: list[float]) -> dict[str, float | int | None]:
    ordered = sorted(values)

    def at(q: float) -> float | None:
        return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] if ordered else None

    return {"count": len(ordered), "p50": at(50), "p95": at(95), "p99": at(99), "max": at(100)}


async def publish_at_rate(
    enqueue_one: Callable[[int], Awaitable[object]], rate: float, duration: float
) -> dict[str, Any]:
    """One job per call, open loop; latency measured from each job's scheduled time."""
    total = int(rate * duration)
    start = time.perf_counter()
    latencies: list[float] = []
    failures = 0

    async def send(seq: int, due: float) -> None:
        nonlocal failures
        try:
            await enqueue_one(seq)
        except Exception:
            failures += 1
            return
        latencies.append((time.perf_counter() - due) * 1000)

    tasks = set()
    for seq in range(total):
        due = start + seq / rate
        if (wait := due - time.perf_counter()) > 0.001:
            await asyncio.sleep(wait)
        task = asyncio.create_task(send(seq, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await asyncio.gather(*tasks)
    return {
        "published": len(latencies),
        "failures": failures,
        "seconds": time.perf_counter() - start,
        "publish_latency_ms": summarize(latencies),
    }


async def run_peer(args: argparse.Namespace) -> None:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=128))
    worker_connection = await asyncpg.connect(args.database_url)
    enqueue_pool = await asyncpg.create_pool(args.database_url, min_size=2, max_size=10)
    queries = Queries(AsyncpgPoolDriver(enqueue_pool))
    await queries.install()
    report("ready")

    steady = args.mode == "steady"
    target = int(args.rate * args.duration) if steady else min(args.measure or args.n, args.n)
    done = 0
    manager = QueueManager(Queries(AsyncpgDriver(worker_connection)))

    @manager.entrypoint(ENTRYPOINT)
    async def deliver(job: Job) -> None:
        nonlocal done
        async with session.post(args.sink_url, data=job.payload) as response:
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"sink answered {response.status}")
        done += 1
        if done >= target:
            manager.shutdown.set()

    if steady:
        worker = asyncio.create_task(manager.run(batch_size=100))
        started = time.perf_counter()

        async def enqueue_one(seq: int) -> object:
            return await queries.enqueue(ENTRYPOINT, job_body(seq))

        report("published", **await publish_at_rate(enqueue_one, args.rate, args.duration))
    else:
        enqueue_start = time.perf_counter()
        for first in range(0, args.n, args.chunk):
            seqs = range(first, min(first + args.chunk, args.n))
            await queries.enqueue(
                [ENTRYPOINT] * len(seqs), [job_body(seq) for seq in seqs], [0] * len(seqs)
            )
        seconds = time.perf_counter() - enqueue_start
        report("enqueued", n=args.n, seconds=seconds, rate=args.n / seconds)
        started = time.perf_counter()
        worker = asyncio.create_task(manager.run(batch_size=100))
    await asyncio.wait_for(worker, timeout=args.timeout)
    seconds = time.perf_counter() - started
    report("drained", n=done, seconds=seconds, rate=done / seconds)
    await wait_for_release()
    await session.close()
    await worker_connection.close()
    await enqueue_pool.close()


async def wait_for_release(seconds: float = 30) -> None:
    """After `drained` the harness reads our CPU time, then closes stdin to let us exit."""
    if sys.stdin.isatty():
        return
    reader = asyncio.StreamReader()
    loop = asyncio.get_running_loop()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader.read(), seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--sink-url", required=True)
    parser.add_argument("--mode", choices=("drain", "steady"), default="drain")
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("--measure", type=int, default=0, help="stop after this many (drain)")
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--timeout", type=float, default=300)
    try:
        asyncio.run(run_peer(parser.parse_args()))
    except Exception as error:
        report("error", message=repr(error))
        sys.exit(1)


if __name__ == "__main__":
    main()
