"""What every framework adapter shares: the public URL of an inbound request and the 401 answer.

The URL check compares the token's `sub` claim, the exact URL the sender posted to, with the URL
this receiver was reached at. Behind a TLS-terminating proxy the receiver sees http and an
internal host, so adapters can trust X-Forwarded-Proto / X-Forwarded-Host when told to. Only
enable that when a proxy you run sets those headers; otherwise any client can choose them.
Pure functions, standard library only.
"""

from __future__ import annotations

import json
from typing import Final

REJECTION_STATUS: Final = 401
REJECTION_CONTENT_TYPE: Final = "application/json"
FORWARDED_PROTO_HEADER: Final = "X-Forwarded-Proto"
FORWARDED_HOST_HEADER: Final = "X-Forwarded-Host"

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def _first_value(header: str | None) -> str:
    """The client-most value of a proxy header that may be a comma-separated chain."""
    return header.split(",", 1)[0].strip() if header else ""


def host_from_server(scheme: str, name: str, port: int | str) -> str:
    """Build a Host value from the server's name and port, omitting the scheme's default port."""
    if str(_DEFAULT_PORTS.get(scheme)) == str(port):
        return name
    return f"{name}:{port}"


def public_url(
    *,
    scheme: str,
    host: str,
    target: str,
    forwarded_proto: str | None = None,
    forwarded_host: str | None = None,
    trust_forwarded: bool = False,
) -> str:
    """Return the URL a request was sent to: scheme://host + target (raw path and query).

    `target` must be the request target exactly as received (still percent-encoded), because the
    signature's `sub` claim is compared with the result byte for byte. With `trust_forwarded`,
    X-Forwarded-Proto and X-Forwarded-Host (first entry of each) replace scheme and host.

    >>> public_url(scheme="http", host="app:8000", target="/hook?a=1",
    ...            forwarded_proto="https", forwarded_host="example.com", trust_forwarded=True)
    'https://example.com/hook?a=1'
    """
    if trust_forwarded:
        scheme = _first_value(forwarded_proto).lower() or scheme
        host = _first_value(forwarded_host) or host
    if not target.startswith("/"):
        target = "/" + target
    return f"{scheme}://{host}{target}"


def rejection_body(reason: str) -> bytes:
    """The JSON body of a 401 answer: {"error": "<reason>"}, QStash's error shape."""
    return json.dumps({"error": reason}).encode("utf-8")
