"""A real ``python -m wirepost ...`` process for end-to-end tests: start it, wait until it
answers, kill it (-9) or stop it (SIGTERM/SIGINT), and read what it printed."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp

TOKEN = "e2e-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def server_env(database_url: str, **settings: str) -> dict[str, str]:
    """The test process's environment (already free of WIREPOST_*) plus the given settings,
    named by their variable without the prefix: ``server_env(url, LEASE="2s")``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREPOST_")}
    env.update(
        {
            "WIREPOST_DATABASE_URL": database_url,
            "WIREPOST_TOKEN": TOKEN,
            "WIREPOST_DESTINATION_ALLOWLIST": "127.0.0.0/8",
            "WIREPOST_POLL_INTERVAL": "100ms",
            "WIREPOST_LOG_LEVEL": "warning",
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update({f"WIREPOST_{name}": value for name, value in settings.items()})
    return env


class WirepostProcess:
    """``python -m wirepost <args>`` with its output in ``log_path``."""

    def __init__(self, args: list[str], env: dict[str, str], port: int, log_path: Path) -> None:
        self.args = args
        self.env = env
        self.port = port
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wirepost", *self.args],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    async def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until GET /healthz answers 200; fails early, with the output, if the process dies."""
        assert self.process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(
                        f"wirepost exited with {self.process.returncode}:\n{self.output()}"
                    )
                try:
                    async with session.get(
                        self.base_url + "/healthz", timeout=aiohttp.ClientTimeout(total=2)
                    ) as resp:
                        if resp.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                if loop.time() > deadline:
                    raise AssertionError(f"wirepost not healthy in {timeout}s:\n{self.output()}")
                await asyncio.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        """Ask it to stop; kill it if it has not within ``timeout``. Returns the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return self.process.returncode

    def logged_errors(self) -> list[str]:
        """Error-level log lines of Wirepost's own loggers (logged bugs, 500s)."""
        return re.findall(r"^\S+ error\s+wirepost.*$", self.output(), re.MULTILINE)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None
