"""What every handler can reach: settings, pool, clock, waker, destination policy, the group
commit that coalesces concurrent publishes, and the bound on publishes waiting for it."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from wirepost.api.pending import PendingPublishes
from wirepost.api.spec import TemplateCache
from wirepost.clock import Clock
from wirepost.config import Settings
from wirepost.destination import DestinationPolicy
from wirepost.group_commit import GroupCommit
from wirepost.store.db import Pool
from wirepost.wakeup import Waker


@dataclass(frozen=True)
class ApiState:
    settings: Settings
    pool: Pool
    clock: Clock
    waker: Waker
    policy: DestinationPolicy
    group_commit: GroupCommit
    pending: PendingPublishes
    templates: TemplateCache


STATE = web.AppKey("wirepost_state", ApiState)


def state_of(request: web.Request) -> ApiState:
    return request.app[STATE]
