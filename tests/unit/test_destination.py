"""Unit tests for wirepost.destination: URL validation and the SSRF guard."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import FrozenInstanceError

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wirepost.destination import (
    MAX_URL_LENGTH,
    DestinationPolicy,
    DestinationRefused,
    refusal_reason,
    validate_destination_url,
)

# Property tests stay quick (tests/unit must run in about 2 s) and never time out on a
# loaded machine.
_QUICK = settings(max_examples=40, deadline=None)

STRICT = DestinationPolicy()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com",
        "https://example.com/path?query=1&x=%2F",
        "HTTPS://Example.com:8443/",
        "http://127.0.0.1:8080/hook",
        "http://[::1]:3000/",
        "https://user:secret@example.com/",
        "https://b\u00fccher.example/caf\u00e9",
        "https://example.com/#fragment",
    ],
)
def test_validate_destination_url_returns_good_urls_unchanged(url: str) -> None:
    assert validate_destination_url(url) is url


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("ftp://example.com", "must start with http:// or https://, got 'ftp://example.com'"),
        ("example.com/hook", "must start with http:// or https://"),
        ("http:/example.com", "must start with http:// or https://"),
        ("//example.com", "must start with http:// or https://"),
        ("", "must start with http:// or https://"),
        ("http://", "has no host"),
        ("http://:8080/", "has no host"),
        ("http://user@/", "has no host"),
        ("http://exa mple.com", "contains ' ' at position 11"),
        ("http://example.com/\n", "contains '\\n'"),
        ("http://example.com/\x7f", "contains '\\x7f'"),
        ("http://example.com/\u00a0", "contains '\\xa0'"),
        ("http://[::1/", "is not valid"),
        ("http://example.com:99999/", "is not valid"),
        ("http://example.com:port/", "is not valid"),
        ("http://evil.com\\@good.com/", "backslash"),
        ("https://" + "a" * MAX_URL_LENGTH, "too long"),
    ],
)
def test_validate_destination_url_rejects_bad_urls(url: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="destination") as caught:
        validate_destination_url(url)
    assert fragment in str(caught.value)


def test_validate_destination_url_accepts_the_maximum_length() -> None:
    url = "https://example.com/" + "a" * (MAX_URL_LENGTH - len("https://example.com/"))
    assert validate_destination_url(url) == url


def test_validate_destination_url_shortens_long_urls_in_messages() -> None:
    url = "ftp://" + "x" * 500
    with pytest.raises(ValueError, match="destination") as caught:
        validate_destination_url(url)
    assert len(str(caught.value)) < 200


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),  # noqa: S104
        ("0.1.2.3", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("100.127.255.255", "shared (CGNAT)"),
        ("192.0.2.1", "documentation"),
        ("198.18.0.1", "benchmarking"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("2001:db8::1", "documentation"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("::ffff:0:10.0.0.1", "private"),
        ("::127.0.0.1", "IPv4-compatible (deprecated)"),
        ("::8.8.8.8", "IPv4-compatible (deprecated)"),
        ("2002:7f00:1::1", "loopback"),
        ("2002:a00:1::", "private"),
        ("64:ff9b::a00:1", "private"),
        ("64:ff9b::7f00:1", "loopback"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "loopback"),
    ],
)
def test_refusal_reason_names_refused_ranges(address: str, reason: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "8.8.8.8",
        "1.1.1.1",
        "93.184.216.34",
        "172.32.0.1",
        "100.128.0.1",
        "169.255.0.1",
        "2606:4700:4700::1111",
        "::ffff:8.8.8.8",
        "2002:808:808::",
        "64:ff9b::808:808",
    ],
)
def test_refusal_reason_passes_public_addresses(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "10.0.0.5",
        "::1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "fe80::1%eth0",
        "[fe80::1%25eth0]",
        "0.0.0.0",  # noqa: S104
        "169.254.169.254",
        "localhost",
        "LOCALHOST",
        "localhost.",
        "app.localhost",
        "127.1",
        "0x7f.0.0.1",
        "0177.0.0.1",
        "2130706433",
        "0x7f000001",
        "10.1",
    ],
)
def test_check_host_refuses_private_literals_and_localhost(host: str) -> None:
    with pytest.raises(DestinationRefused) as caught:
        STRICT.check_host(host)
    assert "WIREPOST_DESTINATION_ALLOWLIST" in str(caught.value)
    assert caught.value.host == host


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "8.8.8.8",
        "[2606:4700:4700::1111]",
        "notlocalhost",
        "localhost.example.com",
        "internal",
        "1e100.net",
        "08.1",
        "1.2.3.4.5",
        "0x",  # a hex prefix without digits: inet_aton refuses it, so it is a name (was ValueError)
        "0X.1",
    ],
)
def test_check_host_passes_public_literals_and_names(host: str) -> None:
    STRICT.check_host(host)


def test_check_host_message_says_what_and_how_to_fix() -> None:
    with pytest.raises(DestinationRefused) as caught:
        STRICT.check_host("[::ffff:127.0.0.1]")
    refusal = caught.value
    assert refusal.reason == "loopback"
    assert refusal.address == "::ffff:7f00:1"
    assert "is a loopback address (IPv4 127.0.0.1 inside IPv6)" in str(refusal)
    assert "WIREPOST_DESTINATION_ALLOWLIST=127.0.0.1/32" in str(refusal)


def test_check_host_message_for_localhost_suggests_the_name() -> None:
    with pytest.raises(DestinationRefused, match="WIREPOST_DESTINATION_ALLOWLIST=localhost"):
        STRICT.check_host("Localhost")


def test_destination_refused_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="loopback"):
        STRICT.check_host("127.0.0.1")


def test_check_address_refuses_a_name_resolving_to_a_private_address() -> None:
    with pytest.raises(DestinationRefused) as caught:
        STRICT.check_address("hooks.example.com", "10.0.0.7")
    refusal = caught.value
    assert (refusal.host, refusal.address, refusal.reason) == (
        "hooks.example.com",
        "10.0.0.7",
        "private",
    )
    assert "'hooks.example.com' resolves to 10.0.0.7, which is a private address" in str(refusal)
    assert "WIREPOST_DESTINATION_ALLOWLIST=10.0.0.7/32" in str(refusal)


def test_check_address_passes_public_addresses() -> None:
    STRICT.check_address("example.com", "93.184.216.34")
    STRICT.check_address("example.com", "2606:2800:220:1:248:1893:25c8:1946")


def test_check_address_refuses_what_is_not_an_address() -> None:
    with pytest.raises(DestinationRefused, match="not an IP address"):
        STRICT.check_address("example.com", "example.org")


def test_check_address_ignores_an_ipv6_zone() -> None:
    with pytest.raises(DestinationRefused, match="link-local"):
        STRICT.check_address("printer.local", "fe80::1%eth0")


def test_allow_private_allows_everything() -> None:
    policy = DestinationPolicy(allow_private=True)
    for host in ("127.0.0.1", "[::1]", "localhost", "10.0.0.1", "app.localhost"):
        policy.check_host(host)
    policy.check_address("localhost", "127.0.0.1")
    policy.check_address("anything", "169.254.169.254")


def test_allowlist_cidr_allows_literals_and_resolved_addresses_inside_it() -> None:
    policy = DestinationPolicy.parse(False, ["10.1.0.0/16"])
    policy.check_host("10.1.2.3")
    policy.check_host("[::ffff:10.1.2.3]")
    policy.check_address("db.internal", "10.1.200.1")
    with pytest.raises(DestinationRefused):
        policy.check_host("10.2.0.1")
    with pytest.raises(DestinationRefused):
        policy.check_address("db.internal", "10.2.0.1")


def test_allowlist_loopback_cidr_also_allows_localhost_names() -> None:
    policy = DestinationPolicy.parse(False, ["127.0.0.0/8"])
    policy.check_host("localhost")
    policy.check_host("127.0.0.1")
    policy.check_address("localhost", "127.0.0.1")
    with pytest.raises(DestinationRefused):
        policy.check_host("[::1]")
    with pytest.raises(DestinationRefused):
        policy.check_address("localhost", "::1")


def test_allowlist_ipv6_cidr_allows_ipv6_loopback() -> None:
    policy = DestinationPolicy.parse(False, ["::1/128"])
    policy.check_host("[::1]")
    policy.check_host("localhost")
    with pytest.raises(DestinationRefused):
        policy.check_host("127.0.0.1")


def test_allowlist_bare_address_allows_only_that_address() -> None:
    policy = DestinationPolicy.parse(False, ["192.168.1.10"])
    policy.check_host("192.168.1.10")
    with pytest.raises(DestinationRefused):
        policy.check_host("192.168.1.11")


def test_allowlist_host_name_allows_its_addresses() -> None:
    policy = DestinationPolicy.parse(False, ["Internal.Example.com."])
    policy.check_address("internal.example.com", "10.0.0.1")
    policy.check_address("INTERNAL.example.COM.", "10.0.0.1")
    with pytest.raises(DestinationRefused):
        policy.check_address("other.example.com", "10.0.0.1")
    with pytest.raises(DestinationRefused):
        policy.check_address("sub.internal.example.com", "10.0.0.1")


def test_allowlist_wildcard_allows_subdomains_but_not_the_parent() -> None:
    policy = DestinationPolicy.parse(False, ["*.svc.local"])
    policy.check_address("api.svc.local", "10.0.0.1")
    policy.check_address("a.b.svc.local", "10.0.0.1")
    with pytest.raises(DestinationRefused):
        policy.check_address("svc.local", "10.0.0.1")
    with pytest.raises(DestinationRefused):
        policy.check_address("evilsvc.local", "10.0.0.1")


def test_allowlist_host_name_allows_a_localhost_name() -> None:
    policy = DestinationPolicy.parse(False, ["localhost"])
    policy.check_host("localhost")
    policy.check_address("localhost", "127.0.0.1")
    with pytest.raises(DestinationRefused):
        policy.check_host("app.localhost")
    with pytest.raises(DestinationRefused):
        policy.check_host("127.0.0.1")


def test_allowlist_host_names_do_not_match_ip_literals() -> None:
    policy = DestinationPolicy.parse(False, ["internal.example.com"])
    with pytest.raises(DestinationRefused):
        policy.check_host("10.0.0.1")


def test_policy_parse_skips_blank_entries_and_trims() -> None:
    policy = DestinationPolicy.parse(False, ["", " 10.0.0.0/8 ", "   ", "internal.example.com"])
    assert policy.allowlist == ("10.0.0.0/8", "internal.example.com")
    assert DestinationPolicy.parse(True, []) == DestinationPolicy(allow_private=True)


def test_policy_is_frozen_and_validates_on_construction() -> None:
    policy = DestinationPolicy()
    with pytest.raises(FrozenInstanceError):
        policy.allow_private = True  # type: ignore[misc]
    with pytest.raises(ValueError, match="WIREPOST_DESTINATION_ALLOWLIST entry"):
        DestinationPolicy(allowlist=("not a host",))


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ("10.1.2.3/16", "did you mean 10.1.0.0/16?"),
        ("10.0.0.0/33", "not a valid CIDR"),
        ("fe80::/129", "not a valid CIDR"),
        ("host:8080", "not a valid CIDR"),
        ("https://internal.example.com", "is a URL"),
        ("*", "would allow every host"),
        ("*.", "would allow every host"),
        ("a..b", "neither a CIDR"),
        ("-bad.example.com", "neither a CIDR"),
        ("bad-.example.com", "neither a CIDR"),
        ("*.*.example.com", "neither a CIDR"),
        ("ex*mple.com", "neither a CIDR"),
        ("300.1.1.1", "neither a CIDR"),
        ("1.2.3", "neither a CIDR"),
        ("has space.com", "neither a CIDR"),
        ("a" * 64 + ".com", "neither a CIDR"),
        (("a" * 60 + ".") * 5 + "com", "neither a CIDR"),
    ],
)
def test_policy_parse_rejects_bad_entries(entry: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="WIREPOST_DESTINATION_ALLOWLIST entry") as caught:
        DestinationPolicy.parse(False, [entry])
    assert fragment in str(caught.value)


_IPV4 = st.ip_addresses(v=4)
_IPV6 = st.ip_addresses(v=6)


@_QUICK
@given(_IPV4)
def test_check_host_agrees_with_check_address_for_ipv4(address: ipaddress.IPv4Address) -> None:
    via_host = _refused(lambda: STRICT.check_host(str(address)))
    via_address = _refused(lambda: STRICT.check_address("example.com", str(address)))
    assert via_host == via_address == (refusal_reason(address) is not None)


@_QUICK
@given(_IPV4)
def test_mapped_ipv6_is_refused_exactly_like_its_ipv4(address: ipaddress.IPv4Address) -> None:
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    assert refusal_reason(mapped) == refusal_reason(address)


@_QUICK
@given(_IPV6)
def test_check_host_accepts_bracketed_ipv6_like_bare(address: ipaddress.IPv6Address) -> None:
    bare = _refused(lambda: STRICT.check_host(str(address)))
    bracketed = _refused(lambda: STRICT.check_host(f"[{address}]"))
    assert bare == bracketed == (refusal_reason(address) is not None)


@_QUICK
@given(st.text(max_size=40))
def test_check_host_raises_only_destination_refused(host: str) -> None:
    try:
        STRICT.check_host(host)
    except DestinationRefused:
        return


@_QUICK
@given(st.lists(st.text(max_size=20), max_size=3))
def test_policy_parse_raises_only_value_error(entries: list[str]) -> None:
    try:
        DestinationPolicy.parse(False, entries)
    except ValueError:
        return


def _refused(check: Callable[[], None]) -> bool:
    try:
        check()
    except DestinationRefused:
        return True
    return False
