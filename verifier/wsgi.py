"""Verify signed deliveries in a WSGI app (Flask, Django, ...): a WSGI middleware.

The middleware reads the request body (CONTENT_LENGTH bytes of wsgi.input), verifies it, and
puts the same bytes back as a fresh `wsgi.input`, so `request.get_data()` in Flask or
`request.body` in Django returns the raw body the signature covers. A request that fails
verification gets 401 with {"error": "<reason>"} and never reaches the app. Imports no framework.

    app.wsgi_app = SignatureMiddleware(app.wsgi_app, Verifier())              # Flask
    application = SignatureMiddleware(get_wsgi_application(), Verifier())     # Django wsgi.py
"""

from __future__ import annotations

import io
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING
from urllib.parse import quote

from .inbound import (
    REJECTION_CONTENT_TYPE,
    REJECTION_STATUS,
    host_from_server,
    public_url,
    rejection_body,
)
from .protocol import SIGNATURE_HEADER
from .verify import SignatureError, Verifier

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

_SIGNATURE_KEY = "HTTP_" + SIGNATURE_HEADER.upper().replace("-", "_")  # PEP 3333 CGI name
_REJECTION_STATUS_LINE = f"{REJECTION_STATUS} Unauthorized"


def _read_body(environ: WSGIEnvironment) -> bytes:
    """Read the request body as PEP 3333 allows: CONTENT_LENGTH bytes, or to EOF if terminated."""
    stream = environ["wsgi.input"]
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        return bytes(stream.read(length))
    if environ.get("wsgi.input_terminated"):
        return bytes(stream.read())
    return b""


def _wsgi_path(environ: WSGIEnvironment) -> str:
    """SCRIPT_NAME + PATH_INFO as the bytes that were sent (PEP 3333 carries them as latin-1)."""
    return str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))


def _target(environ: WSGIEnvironment) -> str:
    """The request target as sent: RAW_URI / REQUEST_URI when the server gives one, else rebuilt."""
    query = str(environ.get("QUERY_STRING", ""))
    raw = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    if raw.startswith("/"):
        return raw if "?" in raw or not query else f"{raw}?{query}"
    path = quote(_wsgi_path(environ).encode("latin-1"))
    return f"{path}?{query}" if query else path


def _url(environ: WSGIEnvironment, *, trust_forwarded: bool) -> str:
    scheme = str(environ.get("wsgi.url_scheme", "http"))
    host = str(environ.get("HTTP_HOST") or "") or host_from_server(
        scheme, str(environ.get("SERVER_NAME", "localhost")), str(environ.get("SERVER_PORT", "80"))
    )
    return public_url(
        scheme=scheme,
        host=host,
        target=_target(environ),
        forwarded_proto=environ.get("HTTP_X_FORWARDED_PROTO"),
        forwarded_host=environ.get("HTTP_X_FORWARDED_HOST"),
        trust_forwarded=trust_forwarded,
    )


class SignatureMiddleware:
    """WSGI middleware that lets only genuine deliveries through to `app`.

    `paths` limits verification to requests whose path (SCRIPT_NAME + PATH_INFO, decoded) is in
    it; `url_check` also compares the signed URL with the URL the request arrived at;
    `trust_forwarded` lets X-Forwarded-Proto / X-Forwarded-Host define that URL (only behind a
    proxy that sets them).
    """

    def __init__(
        self,
        app: WSGIApplication,
        verifier: Verifier,
        *,
        url_check: bool = False,
        trust_forwarded: bool = False,
        clock_tolerance: int = 0,
        paths: Collection[str] | None = None,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.url_check = url_check
        self.trust_forwarded = trust_forwarded
        self.clock_tolerance = clock_tolerance
        self.paths = paths

    def _applies_to(self, environ: WSGIEnvironment) -> bool:
        if self.paths is None:
            return True
        path = _wsgi_path(environ).encode("latin-1").decode("utf-8", "replace")
        return path in self.paths

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        if not self._applies_to(environ):
            return self.app(environ, start_response)
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        url = _url(environ, trust_forwarded=self.trust_forwarded) if self.url_check else None
        signature = str(environ.get(_SIGNATURE_KEY, ""))
        try:
            self.verifier.verify(signature, body, url, self.clock_tolerance)
        except SignatureError as error:
            payload = rejection_body(error.reason)
            start_response(
                _REJECTION_STATUS_LINE,
                [("Content-Type", REJECTION_CONTENT_TYPE), ("Content-Length", str(len(payload)))],
            )
            return [payload]
        return self.app(environ, start_response)
