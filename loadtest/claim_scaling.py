"""Claim time against backlog size, on a Postgres that does nothing else.

The backlog mode of `loadtest.run` reads the claim query's time from `pg_stat_statements` while
deliveries run, so its figure includes waiting for the two cores the server, the sink and
Postgres share. This tool isolates the query: for each backlog size it fills a fresh database
through `messages.insert_many` (the publish path's statement), runs `VACUUM ANALYZE`, then times
the delivery loop's own claim statement (`deliveries.claim_due`) with `EXPLAIN ANALYZE`, each in
a transaction that is rolled back, so every claim sees the same backlog.

    python -m loadtest.claim_scaling                          # embedded Postgres, 1k / 100k / 1M
    python -m loadtest.claim_scaling --sizes 1000,100000 --database-url postgresql://...

The role behind `--database-url` must be able to create databases. Prints one line per size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from datetime import UTC, datetime, timedelta

import uvloop

from loadtest import postgres
from wirepost.domain import Message, new_id
from wirepost.store import db, deliveries, messages
from wirepost.store.migrate import migrate
from wirepost.store.queries import Q

CLAIM = Q["deliveries.claim_due"]
FILL_BATCH = 2_000


def _message(now: datetime, seq: int) -> Message:
    return Message(
        id=new_id("msg_"),
        url="http://127.0.0.1:9/sink",
        method="POST",
        headers={"Content-Type": ["application/json"]},
        body=b'{"t":0,"seq":%d}' % seq,
        max_retries=3,
        not_before=now,
        created_at=now,
    )


async def claim_ms(url: str, size: int, *, limit: int, claims: int) -> list[float]:
    """Fill a backlog of `size` due messages at `url`; the execution time of `claims` claims."""
    setup = await db.connect(url)
    try:
        await migrate(setup)
    finally:
        await setup.close()
    pool = await db.create_pool(url, min_size=1, max_size=2)
    try:
        now = datetime.now(UTC)
        for first in range(0, size, FILL_BATCH):
            batch = [_message(now, seq) for seq in range(first, min(size, first + FILL_BATCH))]
            await messages.insert_many(pool, batch, now=now)
        times = []
        async with pool.acquire() as conn:
            await conn.execute("VACUUM ANALYZE")
            for _ in range(claims):
                transaction = conn.transaction()
                await transaction.start()
                try:
                    plan = await conn.fetchval(
                        "EXPLAIN (ANALYZE, FORMAT JSON) " + CLAIM,
                        now + timedelta(seconds=1),
                        limit,
                        now + timedelta(minutes=1),
                        deliveries.NO_BYTE_BUDGET,
                    )
                finally:
                    await transaction.rollback()
                times.append(float(json.loads(plan)[0]["Execution Time"]))
        return times
    finally:
        await pool.close()


async def run(args: argparse.Namespace) -> None:
    if args.database_url:
        server = postgres.PostgresServer(url=args.database_url, postmaster_pid=None)
    else:
        server = await asyncio.to_thread(postgres.start_embedded)
    try:
        for size in args.sizes:
            started = time.monotonic()
            async with postgres.fresh_database(server, "wp_claim_scaling") as url:
                times = await claim_ms(url, size, limit=args.limit, claims=args.claims + 3)
            kept = times[3:]  # the first claims warm the caches
            median = statistics.median(kept)
            print(
                f"backlog {size:>9,}: claim of {args.limit} in {median:.2f} ms median "
                f"(min {min(kept):.2f}, max {max(kept):.2f}), {median / args.limit * 1000:.1f} µs "
                f"per row; filled in {time.monotonic() - started:.0f} s",
                flush=True,
            )
    finally:
        server.close()


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give whole numbers separated by commas, e.g. 1000,100000"
        ) from None
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"{text!r}: every size must be at least 1")
    return sizes


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[1_000, 100_000, 1_000_000],
        help="comma-separated backlog sizes (default 1000,100000,1000000)",
    )
    parser.add_argument("--limit", type=int, default=400, help="rows per claim (default 400)")
    parser.add_argument("--claims", type=int, default=12, help="timed claims per size")
    parser.add_argument("--database-url", help="a Postgres to use instead of an embedded one")
    return parser.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(run(parse_args()))
