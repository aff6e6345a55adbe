"""Start `wirepost serve` as a subprocess against a given database, or describe a running one.

The benchmark's Wirepost is configured as an operator would run it on one box: loopback
destinations allowed (the sink is on 127.0.0.1), warnings-only logs, default concurrency.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import string
import sys
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from loadtest import subprocesses
from loadtest.phase import Phase


@dataclass
class WirepostServer:
    base_url: str
    token: str
    current_key: str
    next_key: str
    process: asyncio.subprocess.Process | None = None  # None when the run targets a server

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid


def signing_key() -> str:
    """A QStash-style signing key: `sig_` + 28 random characters (32 bytes, as PyJWT wants)."""
    alphabet = string.ascii_letters + string.digits
    return "sig_" + "".join(secrets.choice(alphabet) for _ in range(28))


def wirepost_command() -> list[str] | None:
    """How to run the CLI: the console script beside this interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "wirepost"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("wirepost")
    return [found] if found else None


@dataclass
class WirepostLauncher:
    """Gives each phase its Wirepost: a fresh `wirepost serve`, or the --target server."""

    log_dir: Path
    target: WirepostServer | None = None
    target_pid: int | None = None  # metered as "server" when given with a target
    extra_env: dict[str, str] = field(default_factory=dict)
    token: str = field(default_factory=lambda: "bench_" + secrets.token_hex(16))
    current_key: str = field(default_factory=signing_key)
    next_key: str = field(default_factory=signing_key)

    def __post_init__(self) -> None:
        if self.target is not None:
            self.token = self.target.token
            self.current_key, self.next_key = self.target.current_key, self.target.next_key

    @property
    def keys(self) -> tuple[str, str]:
        return (self.current_key, self.next_key)

    async def start(self, phase: Phase) -> WirepostServer:
        """Start Wirepost on the phase's fresh database; metered and stopped by the phase."""
        if self.target is not None:
            if self.target_pid is not None:
                phase.meter.roles["server"] = self.target_pid
            return self.target
        if phase.database_url is None:
            raise RuntimeError("a self-started Wirepost needs a database")
        server = await self.start_process(phase.database_url, phase.database_name)
        assert server.process is not None
        phase.track("server", server.process)
        return server

    async def describe(self) -> str:
        """The self-started server's version and build, as its `wirepost --version` says
        (pure Python, or the delivery path compiled: see setup.py)."""
        if self.target is not None:
            return "unknown (--target)"
        command = wirepost_command()
        if command is None:
            return "not installed"
        process = await asyncio.create_subprocess_exec(
            *command,
            "--version",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, **self.extra_env},
        )
        out, _ = await process.communicate()
        return out.decode().strip().removeprefix("wirepost ") or "unknown"

    async def start_process(self, database_url: str, name: str) -> WirepostServer:
        """`wirepost serve` on `database_url`, ready to answer; the caller stops it."""
        command = wirepost_command()
        if command is None:
            raise RuntimeError("the `wirepost` command is not installed (pip install -e .)")
        port = subprocesses.free_port()
        env = {
            "WIREPOST_DATABASE_URL": database_url,
            "WIREPOST_TOKEN": self.token,
            "WIREPOST_CURRENT_SIGNING_KEY": self.current_key,
            "WIREPOST_NEXT_SIGNING_KEY": self.next_key,
            "WIREPOST_DESTINATION_ALLOWLIST": "127.0.0.0/8",
            "WIREPOST_LOG_LEVEL": "warning",
            **self.extra_env,
        }
        argv = [*command, "serve", "--host", "127.0.0.1", "--port", str(port), "--migrate"]
        log_path = self.log_dir / f"{name}.wirepost.log"
        process = await subprocesses.start(argv, log_path=log_path, env=env)
        base_url = f"http://127.0.0.1:{port}"
        try:
            await subprocesses.wait_until_ready(
                base_url + "/healthz", process=process, within=60, log_path=log_path
            )
        except BaseException:
            await subprocesses.stop(process)
            raise
        return WirepostServer(base_url, self.token, self.current_key, self.next_key, process)


async def describe_target(base_url: str, token: str) -> WirepostServer:
    """A server the user runs (`--target`): read its signing keys from GET /v2/keys."""
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(base_url.rstrip("/") + "/v2/keys", headers=headers) as response,
    ):
        if response.status != 200:
            raise RuntimeError(
                f"GET {base_url}/v2/keys answered {response.status}: check --target and --token"
            )
        keys = await response.json()
    return WirepostServer(
        base_url=base_url.rstrip("/"),
        token=token,
        current_key=keys["current"],
        next_key=keys["next"],
    )
