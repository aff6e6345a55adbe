"""``wirepost serve`` at start: its pool opens WIREPOST_DATABASE_POOL_MIN connections, ready
before the first publish; an unmigrated database stops it with an error saying what to run."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import asyncpg

from tests.conftest import dsn_with_database
from tests.e2e.wirepost_process import free_port, server_env


async def test_a_started_server_holds_its_minimum_of_connections(db_dsn, start_wirepost):
    await start_wirepost(db_dsn, DATABASE_POOL_MIN="12")
    conn = await asyncpg.connect(db_dsn)
    try:
        others = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    assert others >= 12


async def test_serve_on_an_unmigrated_database_says_to_migrate(pg_admin_dsn, tmp_path: Path):
    name = f"wirepost_empty_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        done = subprocess.run(
            [sys.executable, "-m", "wirepost", "serve", "--port", str(free_port())],
            env=server_env(dsn_with_database(pg_admin_dsn, name)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    assert done.returncode == 1, done.stderr
    assert "the database is not migrated" in done.stderr
    assert "wirepost migrate" in done.stderr
    assert "Traceback" not in done.stderr
