"""Loads the named SQL blocks in ``sql/queries/*.sql`` once, at import.

A block starts with ``-- name: <function>``; the key is ``"<file stem>.<function>"``. Store
modules bind their blocks to module constants at import, so a missing block fails at start-up.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def sql_dir() -> Path:
    """The ``sql/`` folder beside the ``service/`` source tree (or ``WIREPOST_SQL_DIR``)."""
    override = os.environ.get("WIREPOST_SQL_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "sql"


def load_queries(folder: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for path in sorted(folder.glob("*.sql")):
        text = path.read_text()
        parts = _NAME.split(text)
        for name, body in zip(parts[1::2], parts[2::2], strict=True):
            key = f"{path.stem}.{name}"
            if key in queries:
                raise ValueError(f"duplicate SQL block {key} in {path}")
            queries[key] = body.strip()
    return queries


Q = load_queries(sql_dir() / "queries")
