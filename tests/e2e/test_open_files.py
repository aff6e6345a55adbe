"""A server process raises its soft open-file limit to the hard limit, with or without the
delivery loop: API clients hold sockets too (an API-only process left at 1,024 reset most
connections of a publish flood)."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from tests.e2e.conftest import StartWirepost


def _soft_open_files(pid: int) -> int:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    raise AssertionError("no open-file limit in /proc/<pid>/limits")


@pytest.mark.parametrize("delivery", ["true", "false"])
async def test_the_server_raises_its_soft_open_file_limit_to_the_hard_one(
    db_dsn: str, start_wirepost: StartWirepost, delivery: str
):
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = saved[1]
    if hard != resource.RLIM_INFINITY and hard <= 512:
        pytest.skip("the hard open-file limit here leaves nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, hard))  # the server inherits 512
    try:
        server = await start_wirepost(db_dsn, RUN_DELIVERY=delivery)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, saved)
    assert server.process is not None
    expected = 1 << 20 if hard == resource.RLIM_INFINITY else hard
    assert _soft_open_files(server.process.pid) == expected
