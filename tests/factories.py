"""Builders for domain values used across tests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wirepost.domain import Message, new_id


def make_message(now: datetime, **overrides: Any) -> Message:
    values: dict[str, Any] = {
        "id": new_id("msg_"),
        "url": "http://127.0.0.1:9/hook",
        "method": "POST",
        "headers": {"Content-Type": ["application/json"]},
        "body": b'{"hello":"world"}',
        "max_retries": 3,
        "not_before": now,
        "created_at": now,
    }
    values.update(overrides)
    return Message(**values)
