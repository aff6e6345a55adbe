"""``client.messages``: get a message, cancel one, many or all pending messages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import fields as f
from .call import Call, json_call, segment
from .operation import M, Namespace, Operation
from .results import Message


def _cancelled(data: Any) -> int:
    return f.number(f.obj(data), "cancelled")


def get_message(message_id: str) -> Call[Message]:
    """The message with this id (pending, or finished within the server's retention)."""
    return Call("GET", f"/v2/messages/{segment('message_id', message_id)}", Message.from_json)


def cancel_message(message_id: str) -> Call[int]:
    """Cancel a message that is waiting for delivery; returns 1 (404 if it is not waiting)."""
    return Call("DELETE", f"/v2/messages/{segment('message_id', message_id)}", _cancelled)


def cancel_messages(message_ids: Sequence[str]) -> Call[int]:
    """Cancel those of these messages that are waiting; returns how many were cancelled."""
    if isinstance(message_ids, str):
        raise ValueError("message_ids must be a list of ids, not one string")
    return json_call("DELETE", "/v2/messages", _cancelled, {"messageIds": list(message_ids)})


def cancel_all_messages() -> Call[int]:
    """Cancel every message waiting for delivery; returns how many were cancelled."""
    return Call("DELETE", "/v2/messages", _cancelled)


class Messages(Namespace[M]):
    get = Operation(get_message)
    cancel = Operation(cancel_message)
    cancel_many = Operation(cancel_messages)
    cancel_all = Operation(cancel_all_messages)
