"""What every handler can reach: settings, pool, clock, waker, destination policy."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from wirepost.clock import Clock
from wirepost.config import Settings
from wirepost.destination import DestinationPolicy
from wirepost.store.db import Pool
from wirepost.wakeup import Waker


@dataclass(frozen=True)
class ApiState:
    settings: Settings
    pool: Pool
    clock: Clock
    waker: Waker
    policy: DestinationPolicy


STATE = web.AppKey("wirepost_state", ApiState)


def state_of(request: web.Request) -> ApiState:
    return request.app[STATE]
