"""Fixtures for end-to-end tests: ``wirepost serve`` subprocesses on free ports (stopped after
the test, whatever happened) and official QStash SDK clients pointed at them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from qstash import QStash

from tests.e2e.wirepost_process import TOKEN, WirepostProcess, free_port, server_env

StartWirepost = Callable[..., Awaitable[WirepostProcess]]


@pytest.fixture
def start_wirepost(tmp_path: Path) -> Iterator[StartWirepost]:
    """``await start_wirepost(database_url, port=None, **settings)``: a healthy
    ``wirepost serve --migrate`` process; ``settings`` are WIREPOST_* names without the prefix."""
    processes: list[WirepostProcess] = []

    async def start(
        database_url: str, *, port: int | None = None, **settings: str
    ) -> WirepostProcess:
        port = port or free_port()
        process = WirepostProcess(
            ["serve", "--migrate", "--host", "127.0.0.1", "--port", str(port)],
            server_env(database_url, **settings),
            port,
            tmp_path / f"wirepost-{len(processes)}.log",
        )
        processes.append(process)
        process.start()
        await process.wait_healthy()
        return process

    yield start
    for process in processes:
        if process.running():
            process.stop()
    errors = [line for process in processes for line in process.logged_errors()]
    assert not errors, "wirepost logged errors:\n" + "\n".join(errors)


@pytest.fixture
async def wirepost(db_dsn: str, start_wirepost: StartWirepost) -> WirepostProcess:
    """One server on a fresh database, signing keys left for it to generate."""
    return await start_wirepost(db_dsn)


@pytest.fixture
def make_sdk() -> Iterator[Callable[[str], QStash]]:
    """``make_sdk(base_url)``: the official synchronous client, without its own retries (so a
    failure shows at once); its HTTP connections are closed after the test."""
    clients: list[QStash] = []

    def make(base_url: str) -> QStash:
        client = QStash(TOKEN, base_url=base_url, retry=False)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.http._client.close()
