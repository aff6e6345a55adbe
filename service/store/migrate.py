"""Applies ``sql/migrations/NNNN_name.sql`` in order, each in its own transaction.

A Postgres advisory lock serialises replicas that start together; applied versions are recorded
in ``schema_migrations``. Forward-only: a file, once applied, is never run again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from wirepost.store.queries import Q, sql_dir

logger = logging.getLogger(__name__)

_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")
_LOCK = Q["migrations.lock"]
_CREATE_TABLE = Q["migrations.create_table"]
_APPLIED = Q["migrations.applied"]
_RECORD = Q["migrations.record"]


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def available(folder: Path | None = None) -> list[Migration]:
    found = []
    for path in sorted((folder or sql_dir() / "migrations").glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise ValueError(f"migration file {path.name} must be named NNNN_what_changed.sql")
        found.append(Migration(int(match.group(1)), match.group(2), path))
    return found


async def pending(conn: asyncpg.Connection) -> list[Migration]:
    await conn.execute(_CREATE_TABLE)
    done = {r["version"] for r in await conn.fetch(_APPLIED)}
    return [m for m in available() if m.version not in done]


async def migrate(conn: asyncpg.Connection, *, dry_run: bool = False) -> list[Migration]:
    """Apply every pending migration; returns what was (or, with dry_run, would be) applied."""
    async with conn.transaction():
        await conn.execute(_LOCK)  # transaction-scoped: released at commit
        todo = await pending(conn)
    applied = []
    for migration in todo:
        if dry_run:
            applied.append(migration)
            continue
        async with conn.transaction():
            await conn.execute(_LOCK)
            if migration not in await pending(conn):
                continue  # another replica applied it while we waited for the lock
            await conn.execute(migration.path.read_text())
            await conn.execute(_RECORD, migration.version, migration.name)
        logger.info(
            "migration_applied", extra={"version": migration.version, "migration": migration.name}
        )
        applied.append(migration)
    return applied
