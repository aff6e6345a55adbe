"""The ASGI middleware in a real Starlette app driven by Starlette's TestClient."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import StarletteDeprecationWarning
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

with warnings.catch_warnings():
    # Starlette >= 1.x prefers httpx2 for its TestClient and warns when it falls back to httpx
    # (the dev dependency the qstash SDK needs); either client drives the app the same way.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from wirepost.signing import DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, Signer
from wirepost_verify import SIGNATURE_HEADER, Verifier
from wirepost_verify.asgi import Message, Receive, Scope, Send, SignatureMiddleware

BODY = b'{"raw": "\xff\x00 not reformatted" }'
VERIFIER = Verifier(DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY)
SIGNER = Signer(DEV_CURRENT_SIGNING_KEY)


def _sign(url: str, body: bytes = BODY) -> dict[str, str]:
    return {SIGNATURE_HEADER: SIGNER.sign(url=url, body=body, now=int(time.time()))}


async def _echo(request: Request) -> Response:
    return Response(await request.body(), media_type="application/octet-stream")


async def _echo_stream(request: Request) -> Response:
    chunks = [chunk async for chunk in request.stream()]
    return Response(b"".join(chunks), media_type="application/octet-stream")


def _client(**options: Any) -> TestClient:
    app = Starlette(
        routes=[
            Route("/hook", _echo, methods=["POST"]),
            Route("/stream", _echo_stream, methods=["POST"]),
            Route("/health", _echo, methods=["POST"]),
        ],
        middleware=[Middleware(SignatureMiddleware, verifier=VERIFIER, **options)],
    )
    return TestClient(app)


def test_asgi_middleware_passes_genuine_request_with_raw_body() -> None:
    response = _client().post("/hook", content=BODY, headers=_sign("https://x/"))

    assert response.status_code == 200
    assert response.content == BODY


def test_asgi_middleware_replays_a_chunked_body_to_a_streaming_app() -> None:
    def chunks() -> Iterator[bytes]:
        yield BODY[:5]
        yield BODY[5:]

    response = _client().post("/stream", content=chunks(), headers=_sign("https://x/"))

    assert response.status_code == 200
    assert response.content == BODY


def test_asgi_middleware_rejects_tampered_body_with_401_json() -> None:
    response = _client().post("/hook", content=BODY + b"!", headers=_sign("https://x/"))

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert "body hash" in response.json()["error"]


def test_asgi_middleware_rejects_missing_signature() -> None:
    response = _client().post("/hook", content=BODY)

    assert response.status_code == 401
    assert "Upstash-Signature" in response.json()["error"]


def test_asgi_middleware_url_check_accepts_the_signed_url() -> None:
    headers = _sign("http://testserver/hook?tenant=a%2Fb&x=1")

    response = _client(url_check=True).post("/hook?tenant=a%2Fb&x=1", content=BODY, headers=headers)

    assert response.status_code == 200
    assert response.content == BODY


def test_asgi_middleware_url_check_rejects_another_url() -> None:
    response = _client(url_check=True).post(
        "/hook", content=BODY, headers=_sign("http://testserver/other")
    )

    assert response.status_code == 401
    assert "not for this URL" in response.json()["error"]


def test_asgi_middleware_trusts_forwarded_headers_when_told() -> None:
    headers = {
        **_sign("https://public.example/hook"),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "public.example",
    }

    response = _client(url_check=True, trust_forwarded=True).post(
        "/hook", content=BODY, headers=headers
    )

    assert response.status_code == 200


def test_asgi_middleware_ignores_forwarded_headers_by_default() -> None:
    headers = {
        **_sign("https://public.example/hook"),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "public.example",
    }

    response = _client(url_check=True).post("/hook", content=BODY, headers=headers)

    assert response.status_code == 401


def test_asgi_middleware_trusting_forwarded_still_works_without_them() -> None:
    response = _client(url_check=True, trust_forwarded=True).post(
        "/hook", content=BODY, headers=_sign("http://testserver/hook")
    )

    assert response.status_code == 200


def test_asgi_middleware_with_paths_leaves_other_routes_alone() -> None:
    client = _client(paths={"/hook"})

    assert client.post("/health", content=b"ping").status_code == 200
    assert client.post("/hook", content=b"ping").status_code == 401


async def test_asgi_middleware_rebuilds_the_url_without_raw_path_and_host() -> None:
    seen: list[bytes] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append((await receive())["body"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[Message] = []
    incoming: list[Message] = [{"type": "http.request", "body": BODY, "more_body": False}]

    async def receive() -> Message:
        return incoming.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    signature = _sign("https://api.example:8443/a%20b?q=1")[SIGNATURE_HEADER]
    scope: Scope = {
        "type": "http",
        "scheme": "https",
        "path": "/a b",
        "query_string": b"q=1",
        "server": ("api.example", 8443),
        "headers": [(b"upstash-signature", signature.encode())],
    }

    await SignatureMiddleware(app, VERIFIER, url_check=True)(scope, receive, send)

    assert sent[0]["status"] == 204
    assert seen == [BODY]


async def test_asgi_middleware_passes_lifespan_scopes_through() -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["type"])

    async def receive() -> Message:
        raise AssertionError("the middleware must not read a lifespan scope")

    async def send(message: Message) -> None:
        raise AssertionError("the middleware must not answer a lifespan scope")

    await SignatureMiddleware(app, VERIFIER)({"type": "lifespan"}, receive, send)

    assert calls == ["lifespan"]
