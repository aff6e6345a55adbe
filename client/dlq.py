"""``client.dlq``: the dead-letter queue — list (a page, or every entry), get, delete, retry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Unpack

from . import fields as f
from .call import Call, Page, ignore, json_call, page_of, segment
from .filters import DlqFilter, Order, filter_params, page_params
from .operation import M, Namespace, Operation, Pages
from .results import DlqMessage


def list_dlq(
    *,
    cursor: str | None = None,
    count: int | None = None,
    order: Order | None = None,
    **filters: Unpack[DlqFilter],
) -> Call[Page[DlqMessage]]:
    """One page of DLQ entries (oldest first unless ``order="latest"``; ``count`` up to 100)
    matching ``filters``; pass the page's ``cursor`` back for the next page."""
    params = [*page_params(cursor, count, order), *filter_params(filters)]
    return Call("GET", "/v2/dlq", page_of("messages", DlqMessage.from_json), params=params)


def _dlq_path(dlq_id: str) -> str:
    return f"/v2/dlq/{segment('dlq_id', dlq_id)}"


def get_dlq(dlq_id: str) -> Call[DlqMessage]:
    """One DLQ entry (404 once it is deleted, retried or expired)."""
    return Call("GET", _dlq_path(dlq_id), DlqMessage.from_json)


def delete_dlq(dlq_id: str) -> Call[None]:
    """Delete one DLQ entry (404 if it is not there)."""
    return Call("DELETE", _dlq_path(dlq_id), ignore)


def _deleted(data: Any) -> int:
    return f.number(f.obj(data), "deleted")


def _ids(dlq_ids: Sequence[str]) -> list[str]:
    if isinstance(dlq_ids, str):
        raise ValueError("dlq_ids must be a list of ids, not one string")
    return [str(i) for i in dlq_ids]


def delete_dlq_many(dlq_ids: Sequence[str]) -> Call[int]:
    """Delete these DLQ entries; returns how many existed and were deleted."""
    return json_call("DELETE", "/v2/dlq", _deleted, {"dlqIds": _ids(dlq_ids)})


def _message_id(data: Any) -> str:
    return f.text(f.obj(data), "messageId")


def retry_dlq(dlq_id: str) -> Call[str]:
    """Publish the entry's message again, as a new message, and remove the entry; returns the
    new message id. Not repeated after a lost connection (the entry may already be gone)."""
    return Call("POST", f"/v2/dlq/retry/{segment('dlq_id', dlq_id)}", _message_id, replayable=False)


def _message_ids(data: Any) -> list[str]:
    return [_message_id(item) for item in f.array(f.obj(data)["responses"])]


def retry_dlq_many(dlq_ids: Sequence[str]) -> Call[list[str]]:
    """``retry`` for each of these entries that still exists; returns the new message ids."""
    ids = _ids(dlq_ids)
    if not ids:
        raise ValueError("dlq_ids must not be empty")
    params = [("dlqIds", i) for i in ids]
    return Call("POST", "/v2/dlq/retry", _message_ids, params=params, replayable=False)


class Dlq(Namespace[M]):
    list = Operation(list_dlq)
    iterate = Pages(list_dlq)
    get = Operation(get_dlq)
    delete = Operation(delete_dlq)
    delete_many = Operation(delete_dlq_many)
    retry = Operation(retry_dlq)
    retry_many = Operation(retry_dlq_many)
