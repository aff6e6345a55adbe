"""The two exceptions the client raises: the server answered with an error, or no answer came.

    WirepostError(status, message)        an HTTP error answer, parsed from {"error": "..."}
    └── WirepostConnectionError           no HTTP answer at all (status 0): connection refused,
                                          DNS, timeout, connection lost, after any retries

Bad arguments (an empty id, a negative delay, no token) raise ValueError before anything is sent.
"""

from __future__ import annotations

import json

_MAX_TEXT = 500


class WirepostError(Exception):
    """The server answered ``status`` (4xx/5xx) with ``message`` (its ``{"error": ...}`` text)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        self.message = message
        super().__init__(f"{status}: {message}" if status else message)


class WirepostConnectionError(WirepostError):
    """No HTTP answer arrived (``status`` is 0); ``__cause__`` holds the transport error."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


def error_message(content: bytes) -> str:
    """The ``error`` text of a JSON error body, else the body itself (shortened), else a note."""
    text = content.decode("utf-8", errors="replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, str):
        return error
    if not text:
        return "(empty answer)"
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "…"
