"""What a result was measured on: machine, Postgres, and the versions of every queue."""

from __future__ import annotations

import asyncio
import json
import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from loadtest.peer_process import NODE, PEERS_DIR
from loadtest.postgres import PostgresServer


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return round(pages / 2**30, 1)


def _python_package(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _npm_package(name: str) -> str:
    try:
        manifest = PEERS_DIR / "node_modules" / name / "package.json"
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "not installed"


async def _node_version() -> str:
    if not NODE.exists():
        return "not installed"
    process = await asyncio.create_subprocess_exec(
        str(NODE), "--version", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    return out.decode().strip()


async def describe_machine(server: PostgresServer | None) -> dict[str, Any]:
    return {
        "cpu": f"{os.cpu_count()} x {_cpu_model()}",
        "memory": f"{_memory_gib()} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgres": (server.version if server else "unknown (--target)")
        + (" with pg_stat_statements" if server and server.has_pg_stat_statements else "")
        + "".join(f", {name} = {value}" for name, value in (server.settings if server else [])),
        "wirepost": _python_package("wirepost"),
        "aiohttp": _python_package("aiohttp"),
        "node": await _node_version(),
        "pg-boss": _npm_package("pg-boss"),
        "graphile-worker": _npm_package("graphile-worker"),
        "pgqueuer": _python_package("pgqueuer"),
    }
