"""Errors are JSON everywhere (unknown routes, wrong methods, crashes) and never leak internals;
/healthz needs no token."""

from __future__ import annotations

import logging

from aiohttp import web

from tests.api.conftest import AUTH, raw_request
from wirepost.app import build_app

SECRET = "postgresql://admin:hunter2@db.internal/prod"


async def error_payload(response, status: int) -> dict:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    return await response.json()  # type: ignore[no-any-return]


async def test_unknown_v2_route_is_404_json(api):
    payload = await error_payload(await api.get("/v2/nothing-here", headers=AUTH), 404)
    assert set(payload) == {"error"}
    assert "/v2/" in payload["error"]


async def test_unknown_route_outside_v2_is_404_json_without_token(api):
    payload = await error_payload(await api.get("/favicon.ico"), 404)
    assert set(payload) == {"error"}


async def test_wrong_method_is_405_json(api):
    payload = await error_payload(await api.put("/v2/keys", headers=AUTH), 405)
    assert set(payload) == {"error"}


async def test_healthz_answers_without_token(api):
    response = await api.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok"}


async def test_healthz_is_served_without_the_api_role(make_api):
    api = await make_api(run_api=False)
    assert (await api.get("/healthz")).status == 200
    assert (await api.get("/v2/keys", headers=AUTH)).status == 404


async def test_crash_in_a_handler_is_500_without_internals(
    make_settings, clock, aiohttp_client, caplog
):
    async def explode(request: web.Request) -> web.Response:
        raise RuntimeError(f"cannot reach {SECRET}")

    app = build_app(make_settings(run_delivery=False), clock=clock)
    app.router.add_get("/v2/explode", explode)
    api = await aiohttp_client(app)
    with caplog.at_level(logging.ERROR):
        response = await api.get("/v2/explode", headers={**AUTH, "X-Request-Id": "req-123"})
    payload = await error_payload(response, 500)
    assert payload == {"error": "internal error", "requestId": "req-123"}
    assert "hunter2" not in await response.text()
    # The operator still gets the traceback, tied to the request id.
    [record] = [r for r in caplog.records if r.getMessage() == "request_failed"]
    assert record.exc_info is not None
    assert record.levelno == logging.ERROR


async def test_database_error_is_500_without_sql_details(api, pool):
    await pool.execute("ALTER TABLE messages RENAME TO messages_moved")
    try:
        response = await api.get("/v2/messages/msg_x", headers=AUTH)
        payload = await error_payload(response, 500)
        assert payload["error"] == "internal error"
        assert set(payload) == {"error", "requestId"}
        text = await response.text()
        assert "messages" not in text
        assert "relation" not in text
    finally:
        await pool.execute("ALTER TABLE messages_moved RENAME TO messages")


async def test_error_answers_get_a_request_id_when_none_is_given(
    make_settings, clock, aiohttp_client
):
    async def explode(request: web.Request) -> web.Response:
        raise KeyError("x")

    app = build_app(make_settings(run_delivery=False), clock=clock)
    app.router.add_get("/v2/explode", explode)
    api = await aiohttp_client(app)
    first = await error_payload(await api.get("/v2/explode", headers=AUTH), 500)
    second = await error_payload(await api.get("/v2/explode", headers=AUTH), 500)
    assert first["requestId"]
    assert first["requestId"] != second["requestId"]


async def test_raw_target_with_odd_bytes_never_500s(api):
    for target in (
        "/v2/publish/http://127.0.0.1:9/%ZZ",
        "/v2/publish/http://127.0.0.1:9/%",
        "/v2/publish/%",
        "/v2/publish/http://[::1/x",
        "/v2/dlq/%FF",
    ):
        response = await raw_request(
            api, "POST" if "publish" in target else "GET", target, headers=AUTH
        )
        assert response.status < 500, (target, await response.text())
        assert response.content_type == "application/json"


async def test_nul_characters_are_400_and_store_nothing(api, pool):
    for method, target in (
        ("GET", "/v2/messages/msg_%00"),
        ("DELETE", "/v2/messages/msg_%00"),
        ("GET", "/v2/events?messageId=%00"),
        ("GET", "/v2/logs?label=a%00b"),
        ("GET", "/v2/dlq?url=%00"),
        ("POST", "/v2/publish/http://127.0.0.1:9/hook?upstash-label=a%00"),
        ("POST", "/v2/publish/http://127.0.0.1:9/hook?upstash-deduplication-id=%00"),
    ):
        response = await raw_request(api, method, target, headers=AUTH)
        payload = await error_payload(response, 400)
        assert "NUL" in payload["error"], target
    assert await pool.fetchval("SELECT count(*) FROM messages") == 0
