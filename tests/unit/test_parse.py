"""Unit tests for wirepost.api.parse: raw targets, forwarded headers, timing, dedup keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict

from wirepost.api import parse
from wirepost.api.parse import PublishHeaders, split_target
from wirepost.config import Settings
from wirepost.errors import InvalidRequest

PREFIX = "/v2/publish/"
NOW = datetime(2026, 11, 28, 12, 0, 0, 250_000, tzinfo=UTC)
SETTINGS = Settings(max_delay=timedelta(days=7))


def headers(pairs: dict[str, str] | list[tuple[str, str]] | None = None, **query: str):
    multi = CIMultiDict(pairs or {})
    return PublishHeaders(multi, {k.replace("_", "-"): v for k, v in query.items()})


# --- split_target -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "destination", "config"),
    [
        ("/v2/publish/https://example.com/hook", "https://example.com/hook", {}),
        ("/v2/publish/https://example.com/hook?a=1&b=2", "https://example.com/hook?a=1&b=2", {}),
        ("/v2/publish/https://example.com/?qstash_token=secret", "https://example.com/", {}),
        (
            "/v2/publish/https://example.com/h?a=1&qstash_token=t&b=2",
            "https://example.com/h?a=1&b=2",
            {},
        ),
        (
            "/v2/publish/https://example.com/h?upstash-retries=3&x=y&Upstash-Delay=10s",
            "https://example.com/h?x=y",
            {"upstash-retries": "3", "upstash-delay": "10s"},
        ),
        (
            "/v2/publish/https://example.com/h?upstash-forward-a=b%20c&upstash-label=x+y",
            "https://example.com/h",
            {"upstash-forward-a": "b c", "upstash-label": "x y"},
        ),
        ("/v2/publish/https://example.com/a%2Fb?q=%2F", "https://example.com/a%2Fb?q=%2F", {}),
        (
            "/v2/publish/https://example.com/a%20b/%E2%82%AC",
            "https://example.com/a%20b/%E2%82%AC",
            {},
        ),
        ("/v2/publish/https:/example.com/hook", "https://example.com/hook", {}),
        ("/v2/publish/http:/example.com/hook", "http://example.com/hook", {}),
        ("/v2/publish/HTTPS:/example.com/hook", "https://example.com/hook", {}),
        ("/v2/publish/https%3A%2F%2Fexample.com%2Fa", "https://example.com/a", {}),
        ("/v2/publish/https%3a%2f%2fexample.com%2Fa%252Fb", "https://example.com/a%2Fb", {}),
        ("/v2/publish/https://example.com/h?", "https://example.com/h", {}),
        ("/v2/publish/https://example.com/h?flag&x=", "https://example.com/h?flag&x=", {}),
        ("/v2/publish/my-group", "my-group", {}),
        ("/v2/publish/my-group?qstash_token=t", "my-group", {}),
    ],
)
def test_split_target_cases(raw, destination, config):
    target = split_target(raw, PREFIX)
    assert target.destination == destination
    assert target.query_config == config


def test_split_target_keeps_query_order_and_duplicates():
    target = split_target("/v2/publish/http://h/p?b=2&a=1&b=3&qstash_token=t&a=0", PREFIX)
    assert target.destination == "http://h/p?b=2&a=1&b=3&a=0"


def test_split_target_strips_an_encoded_token_name():
    target = split_target("/v2/publish/http://h/p?qstash%5Ftoken=t&k=v", PREFIX)
    assert target.destination == "http://h/p?k=v"


def test_split_target_works_with_other_prefixes():
    target = split_target("/v2/enqueue/q1/https://example.com/x?y=1", "/v2/enqueue/q1/")
    assert target.destination == "https://example.com/x?y=1"


@pytest.mark.parametrize(
    ("destination", "is_url"),
    [
        ("https://example.com", True),
        ("http://example.com", True),
        ("HTTP://example.com", True),
        ("my-group", False),
        ("ftp://example.com", False),
        ("api/llm", False),
    ],
)
def test_target_is_url(destination, is_url):
    assert parse.Target(destination, {}).is_url is is_url


# --- PublishHeaders -------------------------------------------------------------------------


def test_publish_headers_are_case_insensitive_and_fall_back_to_query():
    view = headers({"upstash-retries": " 4 "}, upstash_delay="10s")
    assert view.get("Upstash-Retries") == "4"
    assert view.get("Upstash-Delay") == "10s"
    assert view.get("Upstash-Timeout") is None


def test_publish_headers_prefer_the_header_over_query():
    view = headers({"Upstash-Retries": "4"}, upstash_retries="1")
    assert view.get("Upstash-Retries") == "4"


# --- forwarded_headers -----------------------------------------------------------------------


def test_forwarded_headers_content_type_and_prefixed_ones():
    view = headers(
        [
            ("Content-Type", "application/json"),
            ("Upstash-Forward-test-header", "one"),
            ("UPSTASH-FORWARD-X-Two", "2"),
            ("Upstash-Forward-X-Two", "3"),
            ("Upstash-Forward-", "empty name"),
            ("X-Plain", "dropped"),
            ("Upstash-Retries", "3"),
            ("Authorization", "Bearer t"),
        ]
    )
    assert parse.forwarded_headers(view) == {
        "Content-Type": ["application/json"],
        "Test-Header": ["one"],
        "X-Two": ["2", "3"],
    }


@pytest.mark.parametrize("flag", ["true", "True", "1"])
def test_forwarded_headers_header_forward_takes_incoming_headers(flag):
    view = headers(
        [
            ("Upstash-Header-Forward", flag),
            ("X-Signature", "s"),
            ("user-agent", "curl/8"),
            ("Authorization", "Bearer t"),
            ("Host", "wirepost"),
            ("Content-Length", "3"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "keep-alive"),
            ("Upstash-Retries", "3"),
            ("Upstash-Telemetry-Sdk", "js"),
        ]
    )
    assert parse.forwarded_headers(view) == {"X-Signature": ["s"], "User-Agent": ["curl/8"]}


def test_forwarded_headers_header_forward_from_query_config():
    view = headers({"X-Signature": "s"}, upstash_header_forward="true")
    assert parse.forwarded_headers(view) == {"X-Signature": ["s"]}


def test_forwarded_headers_header_forward_false_forwards_nothing_extra():
    view = headers({"Upstash-Header-Forward": "false", "X-Signature": "s"})
    assert parse.forwarded_headers(view) == {}


def test_forwarded_headers_bad_header_forward_value_names_the_header():
    with pytest.raises(InvalidRequest, match="Upstash-Header-Forward"):
        parse.forwarded_headers(headers({"Upstash-Header-Forward": "sometimes"}))


# --- not_before -----------------------------------------------------------------------------


def test_not_before_defaults_to_now():
    assert parse.not_before(headers(), SETTINGS, NOW) == NOW


@pytest.mark.parametrize(
    ("delay", "expected"),
    [
        ("10s", timedelta(seconds=10)),
        ("1h30m", timedelta(minutes=90)),
        ("45", timedelta(45 / 86400)),
    ],
)
def test_not_before_adds_the_delay(delay, expected):
    assert parse.not_before(headers({"Upstash-Delay": delay}), SETTINGS, NOW) == NOW + expected


def test_not_before_header_wins_over_delay():
    when = int(NOW.timestamp()) + 600
    view = headers({"Upstash-Not-Before": str(when), "Upstash-Delay": "1s"})
    assert parse.not_before(view, SETTINGS, NOW) == datetime.fromtimestamp(when, UTC)


def test_not_before_in_the_past_is_now():
    assert parse.not_before(headers({"Upstash-Not-Before": "0"}), SETTINGS, NOW) == NOW


def test_not_before_from_query_config():
    assert parse.not_before(headers(upstash_delay="2m"), SETTINGS, NOW) == NOW + timedelta(
        minutes=2
    )


@pytest.mark.parametrize(
    ("header", "value", "named"),
    [
        ("Upstash-Delay", "8d", "WIREPOST_MAX_DELAY"),
        ("Upstash-Delay", "later", "Upstash-Delay"),
        ("Upstash-Delay", "-1s", "Upstash-Delay"),
        ("Upstash-Not-Before", "soon", "Upstash-Not-Before"),
        ("Upstash-Not-Before", "1.5", "Upstash-Not-Before"),
        ("Upstash-Not-Before", "-10", "Upstash-Not-Before"),
        ("Upstash-Not-Before", str(int(NOW.timestamp()) + 8 * 86400), "WIREPOST_MAX_DELAY"),
    ],
)
def test_not_before_refuses_bad_values_naming_what_to_fix(header, value, named):
    with pytest.raises(InvalidRequest, match=named):
        parse.not_before(headers({header: value}), SETTINGS, NOW)


def test_not_before_at_exactly_max_delay_is_accepted():
    view = headers({"Upstash-Delay": "7d"})
    assert parse.not_before(view, SETTINGS, NOW) == NOW + timedelta(days=7)


# --- other header parsers --------------------------------------------------------------------


@pytest.mark.parametrize(("value", "millis"), [("5s", 5000), ("1.5s", 1500), ("250ms", 250)])
def test_timeout_ms(value, millis):
    assert parse.timeout_ms(headers({"Upstash-Timeout": value})) == millis


def test_timeout_ms_absent_is_none_and_zero_is_refused():
    assert parse.timeout_ms(headers()) is None
    with pytest.raises(InvalidRequest, match="Upstash-Timeout"):
        parse.timeout_ms(headers({"Upstash-Timeout": "0s"}))


@pytest.mark.parametrize(
    ("value", "method"), [(None, "POST"), ("get", "GET"), ("DELETE", "DELETE")]
)
def test_parse_method(value, method):
    assert parse.parse_method("Upstash-Method", value) == method


@pytest.mark.parametrize("value", ["FETCH", "HEAD", "OPTIONS", "CONNECT", "post "])
def test_parse_method_refuses_unknown_methods(value):
    with pytest.raises(InvalidRequest, match="Upstash-Method"):
        parse.parse_method("Upstash-Method", value)


@pytest.mark.parametrize("value", ["x", "1e3", "0x10", "", "5.0", "21", "-1"])
def test_parse_int_refuses_non_numbers_and_out_of_range(value):
    with pytest.raises(InvalidRequest, match="Upstash-Retries"):
        parse.parse_int("Upstash-Retries", value, 0, 20)


def test_parse_labels():
    assert parse.parse_labels(None) == ()
    assert parse.parse_labels(" a, b ,,c ") == ("a", "b", "c")
    with pytest.raises(InvalidRequest, match="Upstash-Label"):
        parse.parse_labels(",".join(str(i) for i in range(parse.MAX_LABELS + 1)))
    with pytest.raises(InvalidRequest, match="Upstash-Label"):
        parse.parse_labels("x" * (parse.MAX_LABEL_LENGTH + 1))


def test_parse_retry_delay_keeps_text_and_refuses_code():
    assert parse.parse_retry_delay("Upstash-Retry-Delay", "1000 * (1 + retried)") == (
        "1000 * (1 + retried)"
    )
    assert parse.parse_retry_delay("Upstash-Retry-Delay", None) is None
    for bad in ("__import__('os')", "retried.__class__", "1000 +", "open('x')"):
        with pytest.raises(InvalidRequest, match="Upstash-Retry-Delay"):
            parse.parse_retry_delay("Upstash-Retry-Delay", bad)


# --- dedup_key ---------------------------------------------------------------------------------

FORWARDED = {"Content-Type": ["text/plain"]}


def test_dedup_key_none_without_dedup_headers():
    assert parse.dedup_key(headers(), "http://h/p", b"body", FORWARDED) is None


def test_dedup_key_explicit_id():
    key = parse.dedup_key(headers({"Upstash-Deduplication-Id": "abc"}), "http://h/p", b"", {})
    assert key == "id:abc"


def test_dedup_key_explicit_id_wins_over_content_based():
    view = headers(
        {"Upstash-Deduplication-Id": "abc", "Upstash-Content-Based-Deduplication": "true"}
    )
    assert parse.dedup_key(view, "http://h/p", b"x", FORWARDED) == "id:abc"


def test_dedup_key_explicit_id_is_scoped_per_group_endpoint():
    view = headers({"Upstash-Deduplication-Id": "abc"})
    one = parse.dedup_key(view, "http://h/1", b"", {}, scope="http://h/1")
    two = parse.dedup_key(view, "http://h/2", b"", {}, scope="http://h/2")
    assert one != two
    assert one != "id:abc"


def test_dedup_key_explicit_id_too_long():
    view = headers({"Upstash-Deduplication-Id": "x" * (parse.MAX_DEDUP_ID_LENGTH + 1)})
    with pytest.raises(InvalidRequest, match="Upstash-Deduplication-Id"):
        parse.dedup_key(view, "http://h/p", b"", {})


@pytest.mark.parametrize("flag", ["True", "true", "TRUE", "1"])
def test_dedup_key_content_based_accepts_python_sdk_spelling(flag):
    view = headers({"Upstash-Content-Based-Deduplication": flag})
    key = parse.dedup_key(view, "http://h/p", b"body", FORWARDED)
    assert key is not None
    assert key.startswith("content:")


@pytest.mark.parametrize("flag", ["False", "false", "0", ""])
def test_dedup_key_content_based_off(flag):
    view = headers({"Upstash-Content-Based-Deduplication": flag})
    assert parse.dedup_key(view, "http://h/p", b"body", FORWARDED) is None


def test_dedup_key_content_based_bad_flag_names_the_header():
    view = headers({"Upstash-Content-Based-Deduplication": "perhaps"})
    with pytest.raises(InvalidRequest, match="Upstash-Content-Based-Deduplication"):
        parse.dedup_key(view, "http://h/p", b"", {})


def test_dedup_key_content_based_depends_on_destination_body_and_headers():
    view = headers({"Upstash-Content-Based-Deduplication": "true"})

    def key(url: str, body: bytes, forwarded: dict[str, list[str]]) -> str | None:
        return parse.dedup_key(view, url, body, forwarded)

    base = key("http://h/p", b"body", {"Content-Type": ["a"], "X-B": ["1"]})
    assert base == key("http://h/p", b"body", {"X-B": ["1"], "Content-Type": ["a"]})
    assert base != key("http://h/q", b"body", {"Content-Type": ["a"], "X-B": ["1"]})
    assert base != key("http://h/p", b"bodY", {"Content-Type": ["a"], "X-B": ["1"]})
    assert base != key("http://h/p", b"body", {"Content-Type": ["b"], "X-B": ["1"]})
    assert base != key("http://h/p", b"body", {"Content-Type": ["a"]})


def test_dedup_key_content_based_is_unambiguous_at_field_boundaries():
    view = headers({"Upstash-Content-Based-Deduplication": "true"})
    one = parse.dedup_key(view, "http://h/pa", b"b", {})
    two = parse.dedup_key(view, "http://h/p", b"ab", {})
    assert one != two
