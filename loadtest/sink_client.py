"""The harness's side of the sink: start it as a process, reset it, poll its counters."""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from loadtest import subprocesses

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Sink:
    process: asyncio.subprocess.Process
    base_url: str
    session: aiohttp.ClientSession

    def url(self, path: str) -> str:
        """Where a queue should deliver: `path` on the sink (e.g. /in/wirepost)."""
        return self.base_url + path

    async def reset(self) -> None:
        async with self.session.post(self.base_url + "/reset") as response:
            response.raise_for_status()

    async def stats(
        self,
        *,
        latency: bool = False,
        timeline: bool = False,
        since_ns: int = 0,
        bucket_ms: int = 1000,
    ) -> dict[str, Any]:
        query = (
            f"?latency={int(latency)}&timeline={int(timeline)}&since={since_ns}"
            f"&bucket_ms={bucket_ms}"
        )
        async with self.session.get(self.base_url + "/stats" + query) as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
            return result

    async def wait_for(self, unique: int, *, within: float, poll: float = 0.05) -> dict[str, Any]:
        """Poll until `unique` deliveries arrived or `within` seconds passed; the last counters."""
        deadline = time.monotonic() + within
        while True:
            stats = await self.stats()
            if stats["unique"] >= unique or time.monotonic() >= deadline:
                return stats
            await asyncio.sleep(poll)


async def start_sink(
    *, verify_keys: tuple[str, str] | None, log_path: Path, session: aiohttp.ClientSession
) -> Sink:
    """Start loadtest.sink on a free port; it verifies signatures when `verify_keys` is given."""
    port = subprocesses.free_port()
    argv = [sys.executable, "-m", "loadtest.sink", "--port", str(port)]
    if verify_keys is None:
        argv.append("--no-verify")
    else:
        argv += ["--current-key", verify_keys[0], "--next-key", verify_keys[1]]
    process = await subprocesses.start(argv, log_path=log_path, cwd=REPO_ROOT)
    base_url = f"http://127.0.0.1:{port}"
    await subprocesses.wait_until_ready(
        base_url + "/stats", process=process, within=20, log_path=log_path
    )
    return Sink(process=process, base_url=base_url, session=session)
