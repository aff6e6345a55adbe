"""Publish, enqueue and batch (QSTASH_API.md §4.1-4.3), and the JSON variant of each.

A destination is a URL (``https://...``, its query string included) or a URL-group name; it goes
into the path as written, as the official SDKs send it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Required, TypeVar, Unpack, cast

from . import fields as f
from .call import Call, json_call, segment
from .options import PublishOptions, ScheduleOptions, publish_headers
from .results import Published

Options = TypeVar("Options", PublishOptions, ScheduleOptions)


class BatchMessage(PublishOptions, total=False):
    """One message of a batch: a destination, a body, an optional queue, and publish options."""

    destination: Required[str]
    body: str | bytes
    queue: str


class BatchJsonMessage(PublishOptions, total=False):
    """One message of ``batch_json``: like ``BatchMessage``, with any JSON value as body."""

    destination: Required[str]
    body: Any
    queue: str


_ITEM_KEYS = ("destination", "body", "queue")


def body_bytes(body: str | bytes) -> bytes:
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"body must be str or bytes, got {type(body).__name__} (use the _json call)")


def as_json(body: object, options: Options) -> tuple[bytes, Options]:
    """``body`` as JSON, and the options with ``Content-Type: application/json`` unless they
    set a content type already."""
    headers = dict(options.get("headers") or {})
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    with_type = options.copy()
    with_type["headers"] = headers
    return json.dumps(body).encode(), with_type


def _destination(url_or_group: str) -> str:
    if not url_or_group:
        raise ValueError("the destination must be a URL (https://...) or a URL-group name")
    return url_or_group


def _publish_call(path: str, body: str | bytes, options: PublishOptions) -> Call[Published]:
    headers, deduplicated = publish_headers(options)
    return Call(
        "POST",
        path,
        Published.from_json,
        headers=headers,
        content=body_bytes(body),
        replayable=deduplicated,
    )


def publish(
    url_or_group: str, body: str | bytes = b"", **options: Unpack[PublishOptions]
) -> Call[Published]:
    """Store a message for a URL, or one per endpoint of a URL group, and deliver it."""
    return _publish_call(f"/v2/publish/{_destination(url_or_group)}", body, options)


def publish_json(
    url_or_group: str, body: object, **options: Unpack[PublishOptions]
) -> Call[Published]:
    """``publish`` with ``body`` serialised as JSON and ``Content-Type: application/json``."""
    content, with_type = as_json(body, options)
    return publish(url_or_group, content, **with_type)


def enqueue(
    queue: str, url_or_group: str, body: str | bytes = b"", **options: Unpack[PublishOptions]
) -> Call[Published]:
    """``publish`` into a queue (created with parallelism 1 if new): its messages start in
    order, at most ``parallelism`` at a time."""
    path = f"/v2/enqueue/{segment('queue', queue)}/{_destination(url_or_group)}"
    return _publish_call(path, body, options)


def enqueue_json(
    queue: str, url_or_group: str, body: object, **options: Unpack[PublishOptions]
) -> Call[Published]:
    """``enqueue`` with ``body`` serialised as JSON and ``Content-Type: application/json``."""
    content, with_type = as_json(body, options)
    return enqueue(queue, url_or_group, content, **with_type)


def _batch_item(message: BatchMessage) -> tuple[dict[str, Any], bool]:
    options = cast(PublishOptions, {k: v for k, v in message.items() if k not in _ITEM_KEYS})
    headers, deduplicated = publish_headers(options)
    try:
        body = body_bytes(message.get("body", b"")).decode()
    except UnicodeDecodeError:
        raise ValueError(
            "a batch body must be UTF-8 text (publish binary bodies one by one)"
        ) from None
    item = {"destination": _destination(message["destination"]), "headers": headers, "body": body}
    if "queue" in message:
        item["queue"] = message["queue"]
    return item, deduplicated


def _published_list(data: Any) -> list[Published]:
    return [Published.from_json(item) for item in f.array(data)]


def batch(messages: Sequence[BatchMessage]) -> Call[list[Published]]:
    """Publish (or enqueue, with ``queue``) many messages in one request and one transaction;
    the answer is aligned with ``messages``. The whole batch is refused if any item is bad."""
    items = [_batch_item(message) for message in messages]
    return json_call(
        "POST",
        "/v2/batch",
        _published_list,
        [item for item, _ in items],
        replayable=all(deduplicated for _, deduplicated in items),
    )


def batch_json(messages: Sequence[BatchJsonMessage]) -> Call[list[Published]]:
    """``batch`` with each body serialised as JSON and ``Content-Type: application/json``."""
    converted: list[BatchMessage] = []
    for message in messages:
        content, with_type = as_json(message.get("body"), cast(PublishOptions, message))
        converted.append(cast(BatchMessage, {**with_type, "body": content}))
    return batch(converted)
