"""Composition root: builds the aiohttp application and the background loops around one pool.

Everything shares one lifecycle through ``cleanup_ctx``: the pool opens first, the signing keys
are made sure of, then the loops start; on shutdown the loops stop (deliveries in flight get a
grace period) before the pool closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from aiohttp import web

from wirepost.api.middleware import auth_middleware, error_middleware
from wirepost.api.pending import PendingPublishes
from wirepost.api.routes import setup_health_route, setup_routes
from wirepost.api.spec import TemplateCache
from wirepost.api.state import STATE, ApiState
from wirepost.clock import Clock, SystemClock
from wirepost.config import Settings
from wirepost.delivery.dispatch import Dispatcher
from wirepost.delivery.http import DeliveryClient
from wirepost.delivery.loop import DeliveryLoop
from wirepost.destination import DestinationPolicy
from wirepost.domain import SigningKeys
from wirepost.group_commit import GroupCommit
from wirepost.retention import RetentionLoop
from wirepost.scheduler.loop import ScheduleLoop
from wirepost.signing import generate_signing_key
from wirepost.store import connections, db, signing_keys
from wirepost.wakeup import Waker

logger = logging.getLogger(__name__)


def destination_policy(settings: Settings) -> DestinationPolicy:
    return DestinationPolicy.parse(settings.dev, settings.destination_allowlist)


def delivery_client(settings: Settings, policy: DestinationPolicy) -> DeliveryClient:
    """One shared client: keep-alive pools per host (at most delivery_concurrency connections),
    the SSRF guard on every address it connects to, no proxies, no cookies, and no header the
    publisher did not ask for besides ours."""
    return DeliveryClient(policy, limit=settings.delivery_concurrency)


async def prepare_signing_keys(pool: db.Pool, settings: Settings) -> SigningKeys:
    """Configured keys are stored (so every replica and GET /v2/keys agree); otherwise the
    stored pair is used, generated on first start."""
    if settings.current_signing_key and settings.next_signing_key:
        keys = SigningKeys(settings.current_signing_key, settings.next_signing_key)
        await signing_keys.replace(pool, keys)
        return keys
    return await signing_keys.ensure(pool, generate_signing_key)


def build_app(settings: Settings, *, clock: Clock | None = None) -> web.Application:
    clock = clock or SystemClock()
    policy = destination_policy(settings)
    app = web.Application(
        middlewares=[error_middleware, auth_middleware(settings.token)],
        client_max_size=max(settings.max_body_size, settings.max_batch_size) + 64 * 1024,
    )
    app.cleanup_ctx.append(lambda app: _lifecycle(app, settings, clock, policy))
    if settings.run_api:
        setup_routes(app)
    else:
        setup_health_route(app)
    return app


async def _lifecycle(
    app: web.Application, settings: Settings, clock: Clock, policy: DestinationPolicy
) -> AsyncIterator[None]:
    assert settings.database_url, "WIREPOST_DATABASE_URL is required"
    pool = await db.create_pool(
        settings.database_url,
        min_size=settings.database_pool_min,
        max_size=max(10, settings.database_pool_min, settings.delivery_concurrency // 10),
        prepare=connections.prepare_hot_statements,
    )
    stop = asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    client: DeliveryClient | None = None
    claim_pool: db.Pool | None = None
    try:
        await prepare_signing_keys(pool, settings)
        waker = Waker()
        pending = PendingPublishes(
            max_messages=settings.max_pending_messages, max_bytes=settings.max_pending_bytes
        )
        loop: DeliveryLoop | None = None
        if settings.run_delivery:
            # Claims run on a connection of their own that keeps the claim's plan (see
            # db.GENERIC_PLAN_SESSION_SETTINGS); the claim, all it runs, is prepared by its first
            # use rather than with every hot statement.
            claim_pool = await db.create_pool(
                settings.database_url, min_size=1, max_size=1, generic_plans=True
            )
            client = delivery_client(settings, policy)
            loop = DeliveryLoop(
                settings,
                pool,
                clock,
                Dispatcher(client, settings),
                wake=waker.local,
                own_origin=waker.origin,
                claim_pool=claim_pool,
            )
        app[STATE] = ApiState(
            settings,
            pool,
            clock,
            waker,
            policy,
            GroupCommit(pool, taker=loop),
            pending,
            TemplateCache(settings),
        )

        def start(coro: Coroutine[Any, Any, None], name: str) -> None:
            tasks.append(asyncio.create_task(coro, name=name))

        start(waker.run(pool, stop), "waker")
        start(RetentionLoop(settings, pool, clock).run(stop), "retention")
        if loop is not None:
            start(loop.run(stop), "delivery")
        if settings.run_scheduler:
            start(ScheduleLoop(settings, pool, clock, waker).run(stop), "scheduler")
        yield
    finally:
        stop.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        if client is not None:
            await client.close()
        if claim_pool is not None:
            await claim_pool.close()
        await pool.close()
