"""``wirepost dev`` smoke test: one command brings up an embedded Postgres and a server that
prints its banner and answers with QStash's public development credentials."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import wait_until
from tests.e2e.wirepost_process import WirepostProcess, free_port

pytestmark = pytest.mark.e2e

# QStash's documented local-development user 1 (QSTASH_API.md §14).
DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="
DEV_KEYS = {
    "current": "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r",
    "next": "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs",
}


def stop_leftover_postgres(data_dir: Path) -> None:
    """If a failed run left the embedded Postgres up, shut it down (fast mode)."""
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():
        with contextlib.suppress(ValueError, ProcessLookupError, IndexError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)


async def test_dev_prints_a_banner_and_serves_the_qstash_dev_keys(tmp_path: Path):
    folder = Path(tempfile.mkdtemp(prefix="wirepost-e2e-dev-", dir="/tmp"))
    data_dir = folder / "postgres"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREPOST_")}
    env["PYTHONUNBUFFERED"] = "1"
    dev = WirepostProcess(
        ["dev", "--port", str(port), "--data-dir", str(data_dir)], env, port, tmp_path / "dev.log"
    )
    try:
        dev.start()
        await dev.wait_healthy(timeout=60)
        await wait_until(lambda: "Press Ctrl-C" in dev.output(), timeout=5)
        banner = dev.output()
        assert f"http://127.0.0.1:{port}" in banner
        assert DEV_TOKEN in banner
        assert DEV_KEYS["current"] in banner
        assert DEV_KEYS["next"] in banner

        async with aiohttp.ClientSession() as http:
            async with http.get(
                dev.base_url + "/v2/keys", headers={"Authorization": f"Bearer {DEV_TOKEN}"}
            ) as resp:
                assert resp.status == 200
                assert await resp.json() == DEV_KEYS
            async with http.get(
                dev.base_url + "/v2/keys", headers={"Authorization": "Bearer wrong"}
            ) as resp:
                assert resp.status == 401

        assert await asyncio.to_thread(dev.stop, signal.SIGINT) == 0
        assert not (data_dir / "postmaster.pid").exists(), "embedded Postgres still running"
        assert not dev.logged_errors()
    finally:
        if dev.running():
            dev.kill()
        stop_leftover_postgres(data_dir)
        shutil.rmtree(folder, ignore_errors=True)
