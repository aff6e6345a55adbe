"""Base URL and token from arguments or the environment (WIREPOST_* before QSTASH_*)."""

from __future__ import annotations

import pytest

from tests.client.conftest import Both
from tests.conftest import TEST_TOKEN
from wirepost_client import AsyncClient, Client, RetryPolicy
from wirepost_client.settings import DEFAULT_BASE_URL, resolve_settings

ENV_NAMES = ("WIREPOST_URL", "WIREPOST_TOKEN", "QSTASH_URL", "QSTASH_TOKEN")


def resolve(base_url=None, token=None, **environ):
    return resolve_settings(base_url, token, retry=None, timeout=5.0, environ=environ)


def test_settings_arguments_win_over_the_environment():
    settings = resolve(
        "http://a:1/", "arg-token", WIREPOST_URL="http://b:2", WIREPOST_TOKEN="env-token"
    )

    assert (settings.base_url, settings.token) == ("http://a:1", "arg-token")


def test_settings_wirepost_variables_win_over_qstash_variables():
    settings = resolve(
        WIREPOST_URL="http://w:1",
        WIREPOST_TOKEN="w-token",
        QSTASH_URL="http://q:2",
        QSTASH_TOKEN="q-token",
    )

    assert (settings.base_url, settings.token) == ("http://w:1", "w-token")


def test_settings_fall_back_to_qstash_variables_then_the_dev_address():
    assert resolve(QSTASH_URL="http://q:2", QSTASH_TOKEN="q").base_url == "http://q:2"
    assert resolve(QSTASH_TOKEN="q").base_url == DEFAULT_BASE_URL


def test_settings_take_the_first_of_a_comma_separated_token_list():
    assert resolve(WIREPOST_TOKEN=" first , second").token == "first"


def test_settings_without_a_token_say_how_to_give_one():
    with pytest.raises(ValueError, match="set WIREPOST_TOKEN \\(or QSTASH_TOKEN\\)"):
        resolve(WIREPOST_TOKEN="  ")


def test_settings_refuse_a_base_url_without_a_scheme():
    with pytest.raises(ValueError, match="http:// or https://"):
        resolve("127.0.0.1:8080", "t")


def test_settings_retry_false_means_no_retries_and_true_the_default():
    off = resolve_settings(None, "t", retry=False, timeout=1.0, environ={})
    on = resolve_settings(None, "t", retry=True, timeout=1.0, environ={})

    assert off.retry.retries == 0
    assert on.retry == RetryPolicy()


@pytest.mark.parametrize("prefix", ["WIREPOST", "QSTASH"])
async def test_settings_from_the_environment_reach_the_server(mode, server, monkeypatch, prefix):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(f"{prefix}_URL", server)
    monkeypatch.setenv(f"{prefix}_TOKEN", TEST_TOKEN)

    client = AsyncClient() if mode == "async" else Client()
    try:
        keys = await Both(client, threaded=mode == "sync").keys.get()
    finally:
        await client.aclose() if isinstance(client, AsyncClient) else client.close()

    assert keys.current.startswith("sig_")
    assert client.settings.base_url == server
