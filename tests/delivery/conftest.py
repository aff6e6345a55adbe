"""Fixtures for driving the delivery loop: a loop wired exactly as ``app.py`` wires it (real
DeliveryClient with the SSRF guard, real Dispatcher, real Postgres), and messages
published through ``wirepost.publishing``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from tests.factories import make_message
from wirepost import app, publishing
from wirepost.clock import FixedClock
from wirepost.config import Settings
from wirepost.delivery.dispatch import Dispatcher
from wirepost.delivery.http import DeliveryClient, Resolver
from wirepost.delivery.loop import DeliveryLoop
from wirepost.domain import Message
from wirepost.wakeup import Waker

MakeLoop = Callable[..., Awaitable[DeliveryLoop]]
Publish = Callable[..., Awaitable[Message]]


@pytest.fixture
async def make_loop(pool: asyncpg.Pool, clock: FixedClock) -> AsyncIterator[MakeLoop]:
    """``await make_loop(settings, wake=None, resolver=None, own_origin=None, **loop_options)``:
    a DeliveryLoop with its own client (closed after the test) built like
    ``app.delivery_client``, optionally resolving names through ``resolver``."""
    clients: list[DeliveryClient] = []

    async def make(
        settings: Settings,
        *,
        wake: Any = None,
        resolver: Resolver | None = None,
        own_origin: str | None = None,
        **loop_options: Any,
    ) -> DeliveryLoop:
        await app.prepare_signing_keys(pool, settings)
        policy = app.destination_policy(settings)
        client = DeliveryClient(policy, limit=settings.delivery_concurrency, resolver=resolver)
        clients.append(client)
        dispatcher = Dispatcher(client, settings)
        return DeliveryLoop(
            settings, pool, clock, dispatcher, wake=wake, own_origin=own_origin, **loop_options
        )

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
def publish(pool: asyncpg.Pool, clock: FixedClock) -> Publish:
    """``await publish(url, waker=None, **message_fields)``: commit one message now."""

    async def do(url: str, *, waker: Waker | None = None, **fields: Any) -> Message:
        message = make_message(clock.now(), url=url, **fields)
        [result] = await publishing.publish(
            pool, [message], now=clock.now(), dedup_window=timedelta(minutes=10), waker=waker
        )
        assert result.message_id == message.id
        return message

    return do
