"""The aiohttp adapter in a real aiohttp test server: middleware and handler decorator."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from wirepost.signing import DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, Signer
from wirepost_verify import SIGNATURE_HEADER, Verifier
from wirepost_verify.aiohttp import verified, verify_middleware

BODY = b'{"raw": "\xff\x00 not reformatted" }'
VERIFIER = Verifier(DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY)
SIGNER = Signer(DEV_CURRENT_SIGNING_KEY)

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def _sign(url: str, body: bytes = BODY) -> dict[str, str]:
    return {SIGNATURE_HEADER: SIGNER.sign(url=url, body=body, now=int(time.time()))}


async def _echo(request: web.Request) -> web.Response:
    return web.Response(body=await request.read(), content_type="application/octet-stream")


def _app(**options: Any) -> web.Application:
    app = web.Application(middlewares=[verify_middleware(VERIFIER, **options)])
    app.router.add_post("/hook", _echo)
    app.router.add_post("/health", _echo)
    return app


@pytest.fixture
def client_factory(aiohttp_client: Any) -> ClientFactory:
    async def make(app: web.Application) -> TestClient[Any, Any]:
        client: TestClient[Any, Any] = await aiohttp_client(app)
        return client

    return make


async def test_verify_middleware_passes_genuine_request_with_raw_body(
    client_factory: ClientFactory,
) -> None:
    client = await client_factory(_app())

    response = await client.post("/hook?x=1", data=BODY, headers=_sign("https://anything/"))

    assert response.status == 200
    assert await response.read() == BODY


async def test_verify_middleware_rejects_tampered_body_with_401_json(
    client_factory: ClientFactory,
) -> None:
    client = await client_factory(_app())

    response = await client.post("/hook", data=BODY + b"!", headers=_sign("https://anything/"))

    assert response.status == 401
    assert response.content_type == "application/json"
    assert "body hash" in (await response.json())["error"]


async def test_verify_middleware_rejects_missing_signature(client_factory: ClientFactory) -> None:
    client = await client_factory(_app())

    response = await client.post("/hook", data=BODY)

    assert response.status == 401
    assert "Upstash-Signature" in (await response.json())["error"]


async def test_verify_middleware_url_check_accepts_the_signed_url(
    client_factory: ClientFactory,
) -> None:
    client = await client_factory(_app(url_check=True))
    url = str(client.make_url("/hook?tenant=a%2Fb&x=1"))

    response = await client.post("/hook?tenant=a%2Fb&x=1", data=BODY, headers=_sign(url))

    assert response.status == 200
    assert await response.read() == BODY


async def test_verify_middleware_url_check_rejects_another_url(
    client_factory: ClientFactory,
) -> None:
    client = await client_factory(_app(url_check=True))

    response = await client.post("/hook", data=BODY, headers=_sign(str(client.make_url("/other"))))

    assert response.status == 401
    assert "not for this URL" in (await response.json())["error"]


async def test_verify_middleware_trusts_forwarded_headers_when_told(
    client_factory: ClientFactory,
) -> None:
    client = await client_factory(_app(url_check=True, trust_forwarded=True))
    headers = {
        **_sign("https://public.example/hook?x=1"),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "public.example",
    }

    response = await client.post("/hook?x=1", data=BODY, headers=headers)

    assert response.status == 200


async def test_verify_middleware_ignores_forwarded_headers_by_default(
    client_factory: ClientFactory,
) -> None:
    client = await client_factory(_app(url_check=True))
    headers = {
        **_sign("https://public.example/hook"),
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "public.example",
    }

    response = await client.post("/hook", data=BODY, headers=headers)

    assert response.status == 401


async def test_verify_middleware_trusting_forwarded_still_works_without_them(
    client_factory: ClientFactory,
) -> None:
    client = await client_factory(_app(url_check=True, trust_forwarded=True))

    response = await client.post("/hook", data=BODY, headers=_sign(str(client.make_url("/hook"))))

    assert response.status == 200


async def test_verify_middleware_with_paths_leaves_other_routes_alone(
    client_factory: ClientFactory,
) -> None:
    client = await client_factory(_app(paths={"/hook"}))

    unsigned_health = await client.post("/health", data=b"ping")
    unsigned_hook = await client.post("/hook", data=b"ping")

    assert unsigned_health.status == 200
    assert unsigned_hook.status == 401


async def test_verified_decorator_guards_only_its_handler(client_factory: ClientFactory) -> None:
    app = web.Application()
    app.router.add_post("/hook", verified(VERIFIER)(_echo))
    app.router.add_post("/open", _echo)
    client = await client_factory(app)

    genuine = await client.post("/hook", data=BODY, headers=_sign("https://x/"))
    forged = await client.post("/hook", data=BODY, headers={SIGNATURE_HEADER: "x.y.z"})
    open_route = await client.post("/open", data=b"anything")

    assert genuine.status == 200
    assert await genuine.read() == BODY
    assert forged.status == 401
    assert "malformed" in (await forged.json())["error"]
    assert open_route.status == 200


async def test_verified_decorator_url_check_uses_forwarded_headers(
    client_factory: ClientFactory,
) -> None:
    app = web.Application()
    app.router.add_post("/hook", verified(VERIFIER, url_check=True, trust_forwarded=True)(_echo))
    client = await client_factory(app)
    headers = {**_sign("https://public.example/hook"), "X-Forwarded-Proto": "https, http"}
    headers["X-Forwarded-Host"] = "public.example, proxy.internal"

    response = await client.post("/hook", data=BODY, headers=headers)

    assert response.status == 200
