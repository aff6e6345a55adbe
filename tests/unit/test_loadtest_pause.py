"""--pause-postgres: parsing, and stopping then resuming a whole process tree."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from loadtest.postgres import PostgresServer, pause_every
from loadtest.process_meter import process_tree
from loadtest.run import _pause


def test_pause_reads_seconds_and_period() -> None:
    assert _pause("3/60") == (3.0, 60.0)
    assert _pause("0.5/10") == (0.5, 10.0)


@pytest.mark.parametrize("text", ["3", "3/", "a/60", "60/3", "0/60", "3/60/1"])
def test_pause_refuses_what_is_not_a_shorter_pause_in_a_longer_period(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _pause(text)


def _states(pids: list[int]) -> set[str]:
    return {Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] for pid in pids}


async def test_pause_every_stops_the_whole_tree_and_always_resumes_it() -> None:
    shell = await asyncio.create_subprocess_exec("sh", "-c", "sleep 30 & wait")
    try:
        await asyncio.sleep(0.1)
        tree = process_tree(shell.pid)
        assert len(tree) == 2  # the shell and its sleep
        server = PostgresServer(url="postgresql:///unused", postmaster_pid=shell.pid)
        until = asyncio.Event()
        pauses = asyncio.create_task(pause_every(server, seconds=1.0, every=0.1, until=until))
        await asyncio.sleep(0.5)  # within the pause, from 0.1 s to 1.1 s
        assert _states(tree) == {"T"}
        until.set()
        began = await pauses
        assert len(began) == 1
        assert 0.1 <= began[0] < 0.5
        assert "T" not in _states(tree)
    finally:
        shell.kill()
        await shell.wait()


async def test_pause_every_refuses_a_server_it_did_not_start() -> None:
    server = PostgresServer(url="postgresql://elsewhere/db", postmaster_pid=None)
    with pytest.raises(ValueError, match="only a Postgres this run started"):
        await pause_every(server, seconds=1, every=2, until=asyncio.Event())
