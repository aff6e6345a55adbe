"""The ``gates`` table: queues (FIFO, parallelism) and flow-control keys (parallelism, rate per
period) that admit parked deliveries. Admission locks a gate row (SKIP LOCKED), so the limits
hold across every replica."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

import asyncpg

from wirepost.domain import FlowLimits, Gate, Message
from wirepost.store.db import Executor, Pool, transaction
from wirepost.store.queries import Q

_ENSURE_MANY = Q["gates.ensure_many"]
_UPDATE_FLOW_CONFIGS = Q["gates.update_flow_configs"]
_LOCK_OPEN = Q["gates.lock_open"]
_ADMIT_LOCKED = Q["gates.admit_locked"]
_UPSERT_QUEUE = Q["gates.upsert_queue"]
_LIST = Q["gates.list"]
_SET_PAUSED = Q["gates.set_paused"]
_DELETE = Q["gates.delete"]
_PENDING_MESSAGE_IDS = Q["gates.pending_message_ids"]
_PIN = Q["gates.pin"]
_UNPIN = Q["gates.unpin"]
_RESET_RATE = Q["gates.reset_rate"]
_IN_FLIGHT = Q["gates.in_flight"]
_ANY_OPEN = Q["gates.any_open"]

QUEUE = "queue"
FLOW = "flow"


def _from_record(r: asyncpg.Record) -> Gate:
    return Gate(
        kind=r["kind"],
        name=r["name"],
        parallelism=r["parallelism"],
        rate=r["rate"],
        period_seconds=r["period_seconds"],
        paused=r["paused"],
        pinned_parallelism=r["pinned_parallelism"],
        pinned_rate=r["pinned_rate"],
        rate_count=r["rate_count"],
        rate_period_start=r["rate_period_start"],
        created_at=r["created_at"],
        updated_at=r["updated_at"],
        waiting=r["waiting"],
        admitted=r["admitted"],
    )


async def prepare_for(db: Executor, batch: Iterable[Message], *, now: datetime) -> None:
    """Create the queues and flow-control keys ``batch`` needs and apply the latest flow
    limits (call in the transaction that inserts the messages)."""
    queues = {m.queue_name for m in batch if m.queue_name and m.source_message_id is None}
    flows: dict[str, FlowLimits] = {}
    for m in batch:
        if m.flow_control_key and m.flow_control is not None:
            given = m.flow_control
            flows[m.flow_control_key] = FlowLimits(
                given.get("parallelism"), given.get("rate"), given.get("period") or 1
            )
    if not queues and not flows:
        return
    kinds = [QUEUE] * len(queues) + [FLOW] * len(flows)
    names = [*queues, *flows]
    limits = [FlowLimits(parallelism=1)] * len(queues) + list(flows.values())
    await db.execute(
        _ENSURE_MANY,
        kinds,
        names,
        [x.parallelism for x in limits],
        [x.rate for x in limits],
        [x.period for x in limits],
        now,
    )
    if flows:
        await update_flow_limits(db, flows, now=now)


async def update_flow_limits(
    db: Executor, flows: Mapping[str, FlowLimits], *, now: datetime
) -> None:
    await db.execute(
        _UPDATE_FLOW_CONFIGS,
        list(flows),
        [x.parallelism for x in flows.values()],
        [x.rate for x in flows.values()],
        [x.period for x in flows.values()],
        now,
    )


async def admit(pool: Pool, *, now: datetime, max_gates: int = 100) -> int:
    """Release parked deliveries that their gates have room for; returns how many.

    Two statements in one transaction: lock the gates (SKIP LOCKED), then count and admit with
    a snapshot taken after the locks, so replicas admitting at once never exceed a limit.
    """
    async with transaction(pool) as conn:
        locked = await conn.fetch(_LOCK_OPEN, now, max_gates)
        if not locked:
            return 0
        admitted = await conn.fetchval(
            _ADMIT_LOCKED, now, [r["kind"] for r in locked], [r["name"] for r in locked]
        )
    return int(admitted)


async def upsert_queue(
    db: Executor, name: str, *, parallelism: int, paused: bool, now: datetime
) -> None:
    await db.execute(_UPSERT_QUEUE, name, parallelism, paused, now)


async def list_gates(db: Executor, kind: str) -> list[Gate]:
    return [_from_record(r) for r in await db.fetch(_LIST, kind, None)]


async def find(db: Executor, kind: str, name: str) -> Gate | None:
    row = await db.fetchrow(_LIST, kind, name)
    return _from_record(row) if row else None


async def set_paused(db: Executor, kind: str, name: str, *, paused: bool, now: datetime) -> bool:
    return await db.fetchval(_SET_PAUSED, kind, name, paused, now) is not None


async def delete(db: Executor, kind: str, name: str) -> bool:
    return await db.fetchval(_DELETE, kind, name) is not None


async def pending_message_ids(db: Executor, kind: str, name: str) -> list[str]:
    return [r["message_id"] for r in await db.fetch(_PENDING_MESSAGE_IDS, kind, name)]


async def pin(
    db: Executor,
    key: str,
    *,
    parallelism: int | None,
    rate: int | None,
    period: int | None,
    now: datetime,
) -> bool:
    return await db.fetchval(_PIN, key, parallelism, rate, period, now) is not None


async def unpin(db: Executor, key: str, *, parallelism: bool, rate: bool, now: datetime) -> bool:
    return await db.fetchval(_UNPIN, key, parallelism, rate, now) is not None


async def reset_rate(db: Executor, key: str, *, now: datetime) -> bool:
    return await db.fetchval(_RESET_RATE, key, now) is not None


async def in_flight(db: Executor, *, now: datetime) -> int:
    return int(await db.fetchval(_IN_FLIGHT, now))


async def any_open(db: Executor) -> bool:
    return bool(await db.fetchval(_ANY_OPEN))
