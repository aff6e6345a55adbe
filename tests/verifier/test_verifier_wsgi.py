"""The WSGI middleware in a real Flask app driven by Flask's test client."""

from __future__ import annotations

import io
import time
from typing import Any

from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder

from wirepost.signing import DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, Signer
from wirepost_verify import SIGNATURE_HEADER, Verifier
from wirepost_verify.wsgi import SignatureMiddleware

BODY = b'{"raw": "\xff\x00 not reformatted" }'
VERIFIER = Verifier(DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY)
SIGNER = Signer(DEV_CURRENT_SIGNING_KEY)


def _sign(url: str, body: bytes = BODY) -> dict[str, str]:
    return {SIGNATURE_HEADER: SIGNER.sign(url=url, body=body, now=int(time.time()))}


def _flask_app() -> Flask:
    app = Flask(__name__)

    @app.post("/hook")
    def hook() -> tuple[bytes, int, dict[str, str]]:
        body = request.get_data()
        return body, 200, {"X-Seen-Length": str(request.content_length)}

    @app.post("/health")
    def health() -> str:
        return "ok"

    return app


def _client(**options: Any) -> FlaskClient:
    app = _flask_app()
    app.wsgi_app = SignatureMiddleware(app.wsgi_app, VERIFIER, **options)  # type: ignore[method-assign]
    return app.test_client()


def test_wsgi_middleware_passes_genuine_request_with_raw_body() -> None:
    response = _client().post("/hook", data=BODY, headers=_sign("https://x/"))

    assert response.status_code == 200
    assert response.data == BODY
    assert response.headers["X-Seen-Length"] == str(len(BODY))


def test_wsgi_middleware_rejects_tampered_body_with_401_json() -> None:
    response = _client().post("/hook", data=BODY + b"!", headers=_sign("https://x/"))

    assert response.status_code == 401
    assert response.content_type == "application/json"
    assert "body hash" in response.get_json()["error"]


def test_wsgi_middleware_rejects_missing_signature() -> None:
    response = _client().post("/hook", data=BODY)

    assert response.status_code == 401
    assert "Upstash-Signature" in response.get_json()["error"]


def test_wsgi_middleware_url_check_accepts_the_signed_url() -> None:
    headers = _sign("http://localhost/hook?tenant=a%2Fb&x=1")

    response = _client(url_check=True).post("/hook?tenant=a%2Fb&x=1", data=BODY, headers=headers)

    assert response.status_code == 200
    assert response.data == BODY


def test_wsgi_middleware_url_check_rejects_another_url() -> None:
    response = _client(url_check=True).post(
        "/hook", data=BODY, headers=_sign("http://localhost/other")
    )

    assert response.status_code == 401
    assert "not for this URL" in response.get_json()["error"]


def test_wsgi_middleware_trusts_forwarded_headers_when_told() -> None:
    headers = {
        **_sign("https://public.example/hook"),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "public.example",
    }

    response = _client(url_check=True, trust_forwarded=True).post(
        "/hook", data=BODY, headers=headers
    )

    assert response.status_code == 200


def test_wsgi_middleware_ignores_forwarded_headers_by_default() -> None:
    headers = {
        **_sign("https://public.example/hook"),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "public.example",
    }

    response = _client(url_check=True).post("/hook", data=BODY, headers=headers)

    assert response.status_code == 401


def test_wsgi_middleware_trusting_forwarded_still_works_without_them() -> None:
    response = _client(url_check=True, trust_forwarded=True).post(
        "/hook", data=BODY, headers=_sign("http://localhost/hook")
    )

    assert response.status_code == 200


def test_wsgi_middleware_with_paths_leaves_other_routes_alone() -> None:
    client = _client(paths={"/hook"})

    assert client.post("/health", data=b"ping").status_code == 200
    assert client.post("/hook", data=b"ping").status_code == 401


def _call(app: SignatureMiddleware, environ: dict[str, Any]) -> tuple[str, bytes]:
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        statuses.append(status)

    body = b"".join(app(environ, start_response))
    return statuses[0], body


def _raw_echo(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    start_response("200 OK", [])
    return [environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))]


def test_wsgi_middleware_rebuilds_the_url_when_the_server_gives_no_raw_uri() -> None:
    url = "https://api.example:8443/mount/a%20b?q=1"
    environ = EnvironBuilder(
        path="/a b",
        base_url="https://api.example:8443/mount",
        query_string="q=1",
        method="POST",
        data=BODY,
        headers=list(_sign(url).items()),
    ).get_environ()
    for key in ("RAW_URI", "REQUEST_URI", "HTTP_HOST"):
        environ.pop(key, None)
    middleware = SignatureMiddleware(_raw_echo, VERIFIER, url_check=True)

    assert _call(middleware, environ) == ("200 OK", BODY)


def test_wsgi_middleware_reads_a_terminated_input_without_content_length() -> None:
    environ = EnvironBuilder(method="POST", headers=list(_sign("https://x/").items())).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input"] = io.BytesIO(BODY)
    environ["wsgi.input_terminated"] = True
    middleware = SignatureMiddleware(_raw_echo, VERIFIER)

    assert _call(middleware, environ) == ("200 OK", BODY)
