"""The pure HTTP/1.1 pieces of the delivery client (``wirepost.delivery.http``): request
targets (with their connection-pool keys) and request heads. No I/O. Its errors are
``wirepost.delivery.http_errors``.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from yarl import URL

from wirepost.delivery.http_errors import RequestError

RequestHeaders = Mapping[str, str] | Iterable[tuple[str, str]]
PoolKey = tuple[str, str, int]  # scheme, lower-case host, port

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_UNSAFE_TARGET = re.compile(r"[\x00-\x20\x7f]")
_NO_CONTENT_METHODS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS", "TRACE"})
_KNOWN_METHODS = _NO_CONTENT_METHODS | {"POST", "PUT", "PATCH"}
BODY_FRAMING = (b"content-length", b"transfer-encoding")
_PLAIN, _FRAMING, _HOST, _AUTHORIZATION = range(4)
_SPECIAL_HEADERS = {
    "content-length": _FRAMING,
    "transfer-encoding": _FRAMING,
    "host": _HOST,
    "authorization": _AUTHORIZATION,
}
_header_kinds: dict[str, int] = {}  # valid header names seen so far (a bounded cache)


def _header_kind(name: str) -> int:
    """What a header name means to the client; RequestError if it is not a valid name."""
    kind = _header_kinds.get(name)
    if kind is None:
        if not _TOKEN.fullmatch(name):
            raise RequestError(f"header name {name[:40]!r} is not a valid HTTP header name")
        kind = _SPECIAL_HEADERS.get(name.lower(), _PLAIN)
        if len(_header_kinds) < 4096:
            _header_kinds[name] = kind
    return kind


class Target(NamedTuple):
    """What a request needs of its absolute http(s) URL, worked out once per URL."""

    key: PoolKey  # the keep-alive pool the request uses
    path: str  # the request target: the path and query, percent-encoded
    host: str  # the Host header's value
    authorization: str | None  # "Basic ..." for a user:pass@ URL, else None


def target_of(url: URL) -> Target:
    """The request target of an absolute http(s) URL (used as is: already percent-encoded), or
    RequestError when it cannot be requested."""
    scheme = url.scheme
    if scheme not in ("http", "https"):
        raise RequestError(f"URL scheme must be http or https, got {scheme!r}")
    try:
        host, port = url.raw_host, url.port
    except ValueError as exc:  # yarl checks the port only when it is read
        raise RequestError(f"URL cannot be parsed: {exc}") from None
    if not host or port is None:
        raise RequestError("URL has no host")
    path = url.raw_path_qs
    if _UNSAFE_TARGET.search(path):
        raise RequestError(
            "the URL path or query has a space or control character; percent-encode it"
        )
    authorization = None
    if url.raw_user is not None:
        credentials = f"{url.user or ''}:{url.password or ''}".encode()
        authorization = f"Basic {base64.b64encode(credentials).decode()}"
    return Target(
        (scheme, host.lower(), port), path, url.host_port_subcomponent or host, authorization
    )


def request_head(method: str, target: Target, headers: RequestHeaders, body_length: int) -> bytes:
    """The request line and header block, or RequestError if it cannot be sent safely.

    The caller's Content-Length and Transfer-Encoding are dropped: framing is the client's.
    """
    if method not in _KNOWN_METHODS and not _TOKEN.fullmatch(method):
        raise RequestError(f"method {method[:40]!r} is not a valid HTTP method")
    lines = [f"{method} {target.path} HTTP/1.1"]
    has_host = has_authorization = False
    pairs = headers if isinstance(headers, list) else _pairs(headers)
    for name, value in pairs:
        kind = _header_kind(name)
        if kind:
            if kind == _FRAMING:
                continue
            has_host = has_host or kind == _HOST
            has_authorization = has_authorization or kind == _AUTHORIZATION
        lines.append(f"{name}: {value}")
    if not has_host:
        lines.append(f"Host: {target.host}")
    if target.authorization is not None and not has_authorization:
        lines.append(f"Authorization: {target.authorization}")
    if body_length or method not in _NO_CONTENT_METHODS:
        lines.append(f"Content-Length: {body_length}")
    lines += ("", "")
    text = "\r\n".join(lines)
    breaks = len(lines) - 1
    if text.count("\n") != breaks or text.count("\r") != breaks or "\0" in text:
        raise RequestError(_unsafe_value(lines))
    return text.encode("utf-8", "surrogateescape")


def _pairs(headers: RequestHeaders) -> Iterable[tuple[str, str]]:
    """(name, value) pairs of a mapping or of an iterable of pairs. Lists, what deliveries pass,
    skip this: the ``Mapping`` check is an ABC's ``__instancecheck__``."""
    return headers.items() if isinstance(headers, Mapping) else headers


def _unsafe_value(lines: list[str]) -> str:
    for line in lines[1:]:
        if any(c in line for c in "\r\n\0"):
            name = line.split(":", 1)[0]
            return f"header {name!r} has a CR, LF or NUL character in its value"
    return "the URL has a CR, LF or NUL character"
