"""Bad publishes: a 4xx with ``{"error": "..."}`` that names what to fix, and nothing stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.api.conftest import AUTH, count_rows, raw_request
from tests.conftest import TEST_TOKEN

DEST = "http://127.0.0.1:9/hook"
TABLES = ("messages", "deliveries", "events", "deduplication_keys")


async def assert_nothing_stored(pool) -> None:
    for table in TABLES:
        assert await count_rows(pool, table) == 0, table


async def error_of(response, status: int) -> str:
    assert response.status == status, await response.text()
    assert response.content_type == "application/json"
    payload = await response.json()
    assert set(payload) == {"error"}
    assert isinstance(payload["error"], str)
    assert payload["error"]
    return payload["error"]  # type: ignore[no-any-return]


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Upstash-Delay", "soon"),
        ("Upstash-Delay", "10x"),
        ("Upstash-Delay", "-5s"),
        ("Upstash-Delay", "400d"),  # beyond WIREPOST_MAX_DELAY (365 days)
        ("Upstash-Timeout", "fast"),
        ("Upstash-Timeout", "0s"),
        ("Upstash-Retries", "three"),
        ("Upstash-Retries", "-1"),
        ("Upstash-Retries", "21"),  # beyond WIREPOST_MAX_RETRIES (20)
        ("Upstash-Retries", "2.5"),
        ("Upstash-Not-Before", "tomorrow"),
        ("Upstash-Not-Before", "-1"),
        ("Upstash-Not-Before", "99999999999"),  # beyond WIREPOST_MAX_DELAY
        ("Upstash-Method", "FETCH"),
        ("Upstash-Retry-Delay", "__import__('os').system('true')"),
        ("Upstash-Retry-Delay", "1000 *"),
        ("Upstash-Content-Based-Deduplication", "maybe"),
        ("Upstash-Header-Forward", "yes please"),
        ("Upstash-Label", ",".join(f"l{i}" for i in range(17))),
        ("Upstash-Deduplication-Id", "x" * 513),
        ("Upstash-Callback", "ftp://example.com/cb"),
    ],
)
async def test_publish_bad_header_is_400_naming_it_and_stores_nothing(api, pool, header, value):
    response = await raw_request(
        api, "POST", "/v2/publish/" + DEST, headers={**AUTH, header: value}, data=b"x"
    )
    message = await error_of(response, 400)
    assert header.lower() in message.lower()
    await assert_nothing_stored(pool)


async def test_publish_bad_query_config_is_400_naming_it(api, pool):
    response = await raw_request(
        api, "POST", f"/v2/publish/{DEST}?upstash-retries=lots", headers=AUTH, data=b"x"
    )
    assert "upstash-retries" in (await error_of(response, 400)).lower()
    await assert_nothing_stored(pool)


@pytest.mark.parametrize(
    "destination",
    ["ftp://example.com/file", "file:///etc/passwd", "gopher://127.0.0.1/x"],
)
async def test_publish_non_http_destination_is_400(api, pool, destination):
    response = await raw_request(api, "POST", "/v2/publish/" + destination, headers=AUTH)
    assert "http" in (await error_of(response, 400))
    await assert_nothing_stored(pool)


@pytest.mark.parametrize(
    "destination",
    ["http://", "http:///nohost", "http://example.com:port/", "http://a\\b@example.com/"],
)
async def test_publish_malformed_http_destination_is_400(api, pool, destination):
    response = await raw_request(api, "POST", "/v2/publish/" + destination, headers=AUTH)
    await error_of(response, 400)
    await assert_nothing_stored(pool)


async def test_publish_to_an_unknown_group_name_is_404(api, pool):
    response = await raw_request(api, "POST", "/v2/publish/no-such-group", headers=AUTH)
    assert "no-such-group" in await error_of(response, 404)
    await assert_nothing_stored(pool)


async def test_publish_body_over_max_body_size_is_413(make_api, pool):
    api = await make_api(max_body_size=16)
    ok = await raw_request(api, "POST", "/v2/publish/" + DEST, headers=AUTH, data=b"x" * 16)
    assert ok.status == 201
    response = await raw_request(api, "POST", "/v2/publish/" + DEST, headers=AUTH, data=b"x" * 17)
    assert "WIREPOST_MAX_BODY_SIZE" in await error_of(response, 413)
    assert await count_rows(pool, "messages") == 1


async def test_publish_chunked_body_over_max_body_size_is_413(make_api, pool):
    api = await make_api(max_body_size=16)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(4):
            yield b"x" * 8

    response = await api.post("/v2/publish/" + DEST, headers=AUTH, data=chunks())
    assert "WIREPOST_MAX_BODY_SIZE" in await error_of(response, 413)
    await assert_nothing_stored(pool)


async def test_publish_body_far_over_the_limit_is_413_json(make_api, pool):
    api = await make_api(max_body_size=16)
    response = await raw_request(
        api, "POST", "/v2/publish/" + DEST, headers=AUTH, data=b"x" * (200 * 1024)
    )
    assert "WIREPOST_MAX_BODY_SIZE" in await error_of(response, 413)
    await assert_nothing_stored(pool)


# --- authentication ----------------------------------------------------------------------


async def test_publish_without_token_is_401(api, pool):
    response = await raw_request(api, "POST", "/v2/publish/" + DEST, data=b"x")
    assert "token" in (await error_of(response, 401)).lower()
    await assert_nothing_stored(pool)


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer wrong-token",
        f"Bearer {TEST_TOKEN}x",
        f"Basic {TEST_TOKEN}",
        "Bearer ",
        TEST_TOKEN,
    ],
)
async def test_publish_with_wrong_token_is_401(api, pool, authorization):
    response = await raw_request(
        api, "POST", "/v2/publish/" + DEST, headers={"Authorization": authorization}, data=b"x"
    )
    await error_of(response, 401)
    await assert_nothing_stored(pool)


async def test_publish_with_wrong_query_token_is_401(api, pool):
    response = await raw_request(api, "POST", f"/v2/publish/{DEST}?qstash_token=nope", data=b"x")
    await error_of(response, 401)
    await assert_nothing_stored(pool)


async def test_any_configured_token_is_accepted(make_api, pool):
    api = await make_api(token=("first-token", "second-token"))
    for token in ("first-token", "second-token"):
        response = await raw_request(
            api,
            "POST",
            "/v2/publish/" + DEST,
            headers={"Authorization": f"bearer {token}"},
            data=b"x",
        )
        assert response.status == 201
    response = await raw_request(
        api, "POST", "/v2/publish/" + DEST, headers={"Authorization": f"Bearer {TEST_TOKEN}"}
    )
    assert response.status == 401


async def test_every_v2_endpoint_needs_the_token(api):
    for method, path in [
        ("GET", "/v2/messages/msg_x"),
        ("DELETE", "/v2/messages/msg_x"),
        ("GET", "/v2/events"),
        ("GET", "/v2/logs"),
        ("GET", "/v2/dlq"),
        ("DELETE", "/v2/dlq"),
        ("POST", "/v2/dlq/retry"),
        ("GET", "/v2/keys"),
        ("POST", "/v2/keys/rotate"),
        ("GET", "/v2/no-such-endpoint"),
    ]:
        response = await raw_request(api, method, path)
        await error_of(response, 401)
    ok = await raw_request(api, "GET", f"/v2/events?qstash_token={TEST_TOKEN}")
    assert ok.status == 200


# --- destinations on private addresses (SSRF guard) ---------------------------------------

PRIVATE = [
    "http://127.0.0.1:9/hook",
    "http://localhost:9/hook",
    "http://10.1.2.3/hook",
    "http://192.168.0.10/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:9/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://127.1/hook",
    "http://0.0.0.0/hook",
]


@pytest.mark.parametrize("destination", PRIVATE)
async def test_publish_refuses_private_literal_destinations_without_allowlist(
    make_api, pool, destination
):
    api = await make_api(destination_allowlist=(), dev=False)
    response = await raw_request(api, "POST", "/v2/publish/" + destination, headers=AUTH)
    assert "WIREPOST_DESTINATION_ALLOWLIST" in await error_of(response, 400)
    await assert_nothing_stored(pool)


async def test_publish_accepts_public_destinations_without_allowlist(make_api, pool):
    api = await make_api(destination_allowlist=(), dev=False)
    for destination in ("https://example.com/hook", "http://93.184.216.34/hook"):
        response = await raw_request(api, "POST", "/v2/publish/" + destination, headers=AUTH)
        assert response.status == 201, await response.text()


async def test_publish_takes_a_hex_prefix_without_digits_as_a_host_name(make_api):
    # "0x" is no IPv4 spelling (inet_aton refuses it): a name, checked when it is connected to.
    # The destination check used to raise int()'s ValueError on it, answered as a cryptic 400.
    api = await make_api(destination_allowlist=(), dev=False)
    response = await raw_request(api, "POST", "/v2/publish/http://0x/hook", headers=AUTH)
    assert response.status == 201, await response.text()


async def test_publish_accepts_allowlisted_private_destination(make_api):
    api = await make_api(destination_allowlist=("10.0.0.0/8", "127.0.0.1/32"), dev=False)
    for destination in ("http://10.1.2.3/hook", "http://127.0.0.1:9/hook", "http://localhost/x"):
        response = await raw_request(api, "POST", "/v2/publish/" + destination, headers=AUTH)
        assert response.status == 201, await response.text()
    refused = await raw_request(api, "POST", "/v2/publish/http://192.168.1.1/x", headers=AUTH)
    assert refused.status == 400


@pytest.mark.parametrize("destination", PRIVATE)
async def test_publish_accepts_private_destinations_in_dev_mode(make_api, destination):
    api = await make_api(destination_allowlist=(), dev=True)
    response = await raw_request(api, "POST", "/v2/publish/" + destination, headers=AUTH)
    assert response.status == 201, await response.text()


async def test_callback_on_a_private_address_is_refused_at_publish(make_api, pool):
    api = await make_api(destination_allowlist=())
    resp = await raw_request(
        api,
        "POST",
        "/v2/publish/https://example.com/hook",
        headers={**AUTH, "Upstash-Callback": "http://10.0.0.7/cb"},
    )
    assert resp.status == 400
    assert "Upstash-Callback" in (await resp.json())["error"]
    assert await count_rows(pool, "messages") == 0


async def test_upstash_cron_on_publish_points_to_schedules(api, pool):
    resp = await raw_request(
        api,
        "POST",
        "/v2/publish/https://example.com/hook",
        headers={**AUTH, "Upstash-Cron": "* * * * *"},
    )
    assert resp.status == 400
    assert "/v2/schedules" in (await resp.json())["error"]
    assert await count_rows(pool, "messages") == 0
