"""Loads the named SQL blocks in ``sql/queries/*.sql`` once, at import.

A block starts with ``-- name: <function>``; the key is ``"<file stem>.<function>"``. Store
modules bind their blocks to module constants at import, so a missing block fails at start-up.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def sql_dir() -> Path:
    """``WIREPOST_SQL_DIR``; else the ``sql/`` folder beside the ``service/`` source tree (a
    checkout, or an install with -e); else the copy an install without -e put in
    ``<prefix>/share/wirepost/sql`` (pyproject.toml's data-files)."""
    override = os.environ.get("WIREPOST_SQL_DIR")
    if override:
        return Path(override)
    beside_source = Path(__file__).resolve().parents[2] / "sql"
    if beside_source.is_dir():
        return beside_source
    return Path(sys.prefix) / "share" / "wirepost" / "sql"


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


def _queries() -> dict[str, str]:
    folder = sql_dir() / "queries"
    queries = load_queries(folder)
    if not queries:
        raise RuntimeError(
            f"no SQL queries in {folder}: reinstall Wirepost, or set WIREPOST_SQL_DIR to the "
            "sql/ folder of its source"
        )
    return queries


Q = _queries()
