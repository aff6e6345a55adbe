"""Group commit: concurrent publishes share statements, and one bad publish fails alone."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.factories import make_message
from wirepost import group_commit
from wirepost.clock import FixedClock
from wirepost.group_commit import GroupCommit
from wirepost.store import messages


async def test_concurrent_inserts_all_commit_in_fewer_statements(pool: asyncpg.Pool, clock):
    group = GroupCommit(pool)
    batches = [[make_message(clock.now())] for _ in range(50)]
    before = await pool.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    await asyncio.gather(*(group.insert(b, now=clock.now()) for b in batches))
    assert await pool.fetchval("SELECT count(*) FROM messages") == 50
    assert await pool.fetchval("SELECT count(*) FROM deliveries") == 50
    after = await pool.fetchval(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
    )
    # pg_stat counters are updated lazily; when they moved, fewer commits than publishes.
    assert after - before < 50


async def test_a_failing_publish_does_not_fail_the_others(pool: asyncpg.Pool, clock: FixedClock):
    group = GroupCommit(pool)
    good = [[make_message(clock.now())] for _ in range(5)]
    bad = [make_message(clock.now(), url="http://127.0.0.1/\x00")]
    results = await asyncio.gather(
        *(group.insert(b, now=clock.now()) for b in [*good[:2], bad, *good[2:]]),
        return_exceptions=True,
    )
    assert [isinstance(r, Exception) for r in results] == [False, False, True, False, False, False]
    assert await pool.fetchval("SELECT count(*) FROM messages") == 5


async def test_insert_raises_what_the_database_raised(pool: asyncpg.Pool, clock: FixedClock):
    group = GroupCommit(pool)
    message = make_message(clock.now())
    await group.insert([message], now=clock.now())
    with pytest.raises(asyncpg.UniqueViolationError):
        await group.insert([message], now=clock.now())


async def test_two_inserts_run_at_once_and_no_more(pool: asyncpg.Pool, clock: FixedClock):
    # While one statement waits (here on a lock, in production on its commit), a second one
    # takes the publishes that queued meanwhile; a third waits for either to finish.
    group = GroupCommit(pool)
    blocked_inserts = """
        SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND wait_event_type = 'Lock'
          AND query LIKE '-- Store messages with their deliveries%'"""  # messages.insert_many
    async with pool.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE events IN SHARE MODE")  # blocks every insert
        tasks = []
        for _ in range(5):
            tasks.append(
                asyncio.create_task(group.insert([make_message(clock.now())], now=clock.now()))
            )
            await asyncio.sleep(0.05)
        async with pool.acquire() as watcher:
            for _ in range(100):
                if await watcher.fetchval(blocked_inserts) >= 2:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.2)
            assert await watcher.fetchval(blocked_inserts) == 2
        assert not any(t.done() for t in tasks)
    await asyncio.gather(*tasks)
    assert await pool.fetchval("SELECT count(*) FROM messages") == 5


@pytest.mark.parametrize(("max_bytes", "groups"), [(130, [2, 2, 2]), (10_000, [6])])
async def test_groups_stop_at_max_bytes_of_bodies(
    pool: asyncpg.Pool, clock: FixedClock, monkeypatch, max_bytes, groups
):
    # Six publishes queue up at once (the inserts wait on a lock): one statement takes them
    # all, or two each when only two 60-byte bodies fit in max_bytes.
    sizes: list[int] = []
    real_insert_many = messages.insert_many

    async def recording(db, batch, *, now, handoff=None):
        sizes.append(len(batch))
        await real_insert_many(db, batch, now=now, handoff=handoff)

    monkeypatch.setattr(group_commit.messages, "insert_many", recording)
    group = GroupCommit(pool, max_bytes=max_bytes)
    async with pool.acquire() as locker, locker.transaction():
        await locker.execute("LOCK TABLE events IN SHARE MODE")
        tasks = [
            asyncio.create_task(
                group.insert([make_message(clock.now(), body=b"x" * 60)], now=clock.now())
            )
            for _ in range(6)
        ]
        await asyncio.sleep(0.2)
    await asyncio.gather(*tasks)
    assert sorted(sizes) == groups
    assert await pool.fetchval("SELECT count(*) FROM messages") == 6
