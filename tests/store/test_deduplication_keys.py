from __future__ import annotations

from datetime import timedelta

from wirepost.clock import FixedClock
from wirepost.store import deduplication_keys


async def test_claim_returns_the_first_owner_within_the_window(pool, clock: FixedClock):
    now = clock.now()
    until = now + timedelta(minutes=10)
    assert await deduplication_keys.claim(pool, "k", "msg_a", expires_at=until, now=now) == "msg_a"
    assert await deduplication_keys.claim(pool, "k", "msg_b", expires_at=until, now=now) == "msg_a"


async def test_claim_takes_over_an_expired_key(pool, clock: FixedClock):
    now = clock.now()
    await deduplication_keys.claim(
        pool, "k", "msg_a", expires_at=now + timedelta(seconds=1), now=now
    )
    later = now + timedelta(seconds=2)
    owner = await deduplication_keys.claim(
        pool, "k", "msg_b", expires_at=later + timedelta(minutes=10), now=later
    )
    assert owner == "msg_b"


async def test_prune_forgets_expired_keys(pool, clock: FixedClock):
    now = clock.now()
    await deduplication_keys.claim(pool, "old", "msg_a", expires_at=now, now=now)
    await deduplication_keys.claim(
        pool, "new", "msg_b", expires_at=now + timedelta(hours=1), now=now
    )
    assert await deduplication_keys.prune(pool, before=now + timedelta(seconds=1), limit=100) == 1
