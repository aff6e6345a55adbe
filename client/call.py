"""One API call as a value: the request to send and how to read its answer. Pure: no I/O.

Every endpoint is a function that returns a ``Call``; the sync and the async transport both send
it and hand the answer to ``Call.read``. So each endpoint is written once, for both clients.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from . import fields
from .errors import WirepostError, error_message

T = TypeVar("T")
Params = Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; ``cursor`` is None on the last page."""

    items: tuple[T, ...]
    cursor: str | None

    def after(self, used: str | None) -> str | None:
        """The cursor of the next page, or None at the end (or if the cursor did not move)."""
        return self.cursor if self.cursor and self.cursor != used else None


@dataclass(frozen=True)
class Call(Generic[T]):
    """``method`` ``path`` (below the base URL) with ``params``, ``headers`` and ``content``;
    ``parse`` turns a successful answer's JSON (None for an empty body) into the result.
    ``replayable``: sending it twice does no harm, so it may be retried even when the
    connection broke after the request went out."""

    method: str
    path: str
    parse: Callable[[Any], T]
    params: Params = ()
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None
    replayable: bool = True

    def read(self, status: int, content: bytes) -> T:
        """The result of an answer, or WirepostError for a 4xx/5xx (or a garbled answer)."""
        if status >= 400:
            raise WirepostError(status, error_message(content))
        try:
            data = json.loads(content) if content.strip() else None
        except ValueError:
            raise WirepostError(status, f"answer is not JSON: {error_message(content)}") from None
        try:
            return self.parse(data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise WirepostError(
                status, f"unexpected answer to {self.method} {self.path}: {exc!r}"
            ) from None


def json_call(
    method: str, path: str, parse: Callable[[Any], T], body: object, **options: Any
) -> Call[T]:
    """A call with a JSON request body."""
    return Call(
        method,
        path,
        parse,
        headers={"Content-Type": "application/json"},
        content=json.dumps(body).encode(),
        **options,
    )


def segment(what: str, value: str) -> str:
    """``value`` escaped as one path segment. An empty id is refused: ``DELETE
    /v2/messages/`` would address the whole collection."""
    if not value:
        raise ValueError(f"{what} must not be empty")
    return quote(value, safe="")


def page_of(key: str, read_item: Callable[[Any], T]) -> Callable[[Any], Page[T]]:
    """Reads ``{"cursor"?: "...", key: [...]}`` as a Page."""

    def read(data: Any) -> Page[T]:
        d = fields.obj(data)
        items = tuple(read_item(item) for item in fields.array(d[key]))
        return Page(items, fields.opt_text(d, "cursor"))

    return read


def ignore(_data: Any) -> None:
    """For answers that carry nothing the caller needs."""
