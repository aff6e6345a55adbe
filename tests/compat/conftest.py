"""Fixtures for the compatibility suite: a real ``wirepost serve --migrate`` process per test
module (on a database of its own, cloned from the migrated template), one threaded receiver for
the whole session, and the official Python SDK, synchronous or asynchronous, behind one
awaitable surface (``await sdk.message.publish(...)``).

Signing keys are left for the server to generate and keep, so ``POST /v2/keys/rotate`` works;
the rotation test starts a server of its own because a rotation changes the keys for good.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import asyncpg
import pytest

from tests.compat.sdk_surface import AwaitableSdk, open_sdk
from tests.compat.sink import Sink
from tests.conftest import dsn_with_database
from tests.e2e.wirepost_process import WirepostProcess, free_port, server_env


async def _create_database(admin_dsn: str, template: str) -> str:
    name = f"wirepost_compat_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    finally:
        await conn.close()
    return name


async def _drop_database(admin_dsn: str, name: str) -> None:
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class ServerFactory:
    """Starts healthy ``wirepost serve --migrate`` processes, each on a fresh database, and
    stops them (and drops their databases) on ``close()``."""

    def __init__(self, admin_dsn: str, template: str, log_dir: Path) -> None:
        self._admin_dsn = admin_dsn
        self._template = template
        self._log_dir = log_dir
        self._started: list[tuple[WirepostProcess, str]] = []

    def start(self) -> WirepostProcess:
        database = asyncio.run(_create_database(self._admin_dsn, self._template))
        port = free_port()
        process = WirepostProcess(
            ["serve", "--migrate", "--host", "127.0.0.1", "--port", str(port)],
            server_env(dsn_with_database(self._admin_dsn, database), POLL_INTERVAL="0.2s"),
            port,
            self._log_dir / f"wirepost-{database}.log",
        )
        self._started.append((process, database))
        process.start()
        asyncio.run(process.wait_healthy())
        return process

    def stop(self, process: WirepostProcess) -> None:
        """Stop ``process`` and drop its database."""
        for started in [s for s in self._started if s[0] is process]:
            self._started.remove(started)
            if process.running():
                process.stop()
            asyncio.run(_drop_database(self._admin_dsn, started[1]))

    def close(self) -> None:
        for process, _ in list(self._started):
            self.stop(process)


@pytest.fixture(scope="session")
def wirepost_servers(
    pg_admin_dsn: str, pg_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerFactory]:
    factory = ServerFactory(pg_admin_dsn, pg_template, tmp_path_factory.mktemp("compat-logs"))
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def wirepost(wirepost_servers: ServerFactory) -> Iterator[WirepostProcess]:
    """One server for the test module; tests in it use names of their own."""
    process = wirepost_servers.start()
    yield process
    wirepost_servers.stop(process)


@pytest.fixture(scope="session")
def sink() -> Iterator[Sink]:
    receiver = Sink()
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture(params=["sync", "async"])
async def sdk(
    request: pytest.FixtureRequest, wirepost: WirepostProcess
) -> AsyncIterator[AwaitableSdk]:
    """The official client (``QStash`` or ``AsyncQStash``), with its own retries off so that a
    failure shows at once."""
    async with open_sdk(wirepost.base_url, flavour=request.param) as client:
        yield client


@pytest.fixture
def unique() -> Callable[[str], str]:
    """``unique("queue")`` → ``queue-1a2b3c4d``: names and sink paths no other test uses."""
    return lambda prefix: f"{prefix}-{uuid.uuid4().hex[:8]}"
