"""Public-URL reconstruction and the 401 body shared by the framework adapters."""

from __future__ import annotations

import json

import pytest

from wirepost_verify.inbound import host_from_server, public_url, rejection_body


def test_public_url_joins_scheme_host_and_raw_target() -> None:
    url = public_url(scheme="http", host="127.0.0.1:8000", target="/a%2Fb?x=1&y=%20")

    assert url == "http://127.0.0.1:8000/a%2Fb?x=1&y=%20"


def test_public_url_ignores_forwarded_headers_unless_trusted() -> None:
    url = public_url(
        scheme="http",
        host="app:8000",
        target="/hook",
        forwarded_proto="https",
        forwarded_host="public.example",
    )

    assert url == "http://app:8000/hook"


def test_public_url_uses_the_first_forwarded_values_when_trusted() -> None:
    url = public_url(
        scheme="http",
        host="app:8000",
        target="/hook",
        forwarded_proto=" HTTPS , http",
        forwarded_host="public.example, lb.internal",
        trust_forwarded=True,
    )

    assert url == "https://public.example/hook"


@pytest.mark.parametrize(("proto", "host"), [(None, None), ("", ""), (" , ", ",")])
def test_public_url_falls_back_when_trusted_headers_are_absent(
    proto: str | None, host: str | None
) -> None:
    url = public_url(
        scheme="http",
        host="app:8000",
        target="/hook",
        forwarded_proto=proto,
        forwarded_host=host,
        trust_forwarded=True,
    )

    assert url == "http://app:8000/hook"


def test_public_url_adds_the_leading_slash_of_an_empty_target() -> None:
    assert public_url(scheme="https", host="h", target="") == "https://h/"


@pytest.mark.parametrize(
    ("scheme", "port", "expected"),
    [("http", 80, "h"), ("https", "443", "h"), ("http", 443, "h:443"), ("https", 8443, "h:8443")],
)
def test_host_from_server_omits_only_the_default_port(
    scheme: str, port: int | str, expected: str
) -> None:
    assert host_from_server(scheme, "h", port) == expected


def test_rejection_body_is_the_qstash_error_shape() -> None:
    assert json.loads(rejection_body('token is for "x", not caf\u00e9')) == {
        "error": 'token is for "x", not caf\u00e9'
    }
