"""Destination URLs: syntax checks and the private-address guard against SSRF (Svix's idea).

Owns deciding whether Wirepost may send a request to a destination. Pure: no I/O, no DNS.
The delivery client (``wirepost.delivery.http``) calls :meth:`check_host` on every URL host
(IP literals, ``localhost`` names) and :meth:`check_address` on every address a name resolved
to, so the address actually connected to is what is checked; the API calls :meth:`check_host`
for an early 400.

Refused unless allowed: loopback, private (RFC 1918, ``fc00::/7``), link-local (including the
cloud metadata address 169.254.169.254), unspecified, multicast, CGNAT ``100.64.0.0/10``,
reserved, documentation and benchmarking ranges, and IPv6 forms that embed an IPv4 address in
one of those (IPv4-mapped ``::ffff:a.b.c.d``, IPv4-translated ``::ffff:0:a.b.c.d``, 6to4
``2002::/16``, NAT64 ``64:ff9b::/96``, Teredo clients). IPv4-compatible ``::a.b.c.d``
addresses (deprecated) are refused outright. Legacy IPv4 spellings that ``inet_aton`` accepts
(``127.1``, ``0x7f.0.0.1``, ``2130706433``) count as IP literals in :meth:`check_host`.
Allowed: everything when ``allow_private`` is set (dev mode), a host name matching an
allowlist host entry, or an address inside an allowlist CIDR.

Allowlist entries (``WIREPOST_DESTINATION_ALLOWLIST``): CIDRs such as ``10.1.0.0/16`` or
``::1/128`` (a bare address means just that address), exact host names such as
``internal.example.com``, or ``*.svc.local`` for every name below ``svc.local`` (not
``svc.local`` itself). Names compare case-insensitively, ignoring a trailing dot, in the ASCII
form aiohttp resolves (punycode ``xn--...`` for internationalized names). Because
``localhost`` names always mean loopback (RFC 6761), a CIDR entry covering 127.0.0.1 or ::1 also
allows them in :meth:`check_host`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
ALLOWLIST_SETTING = "WIREPOST_DESTINATION_ALLOWLIST"
_HOW_TO_FIX = (
    "Wirepost refuses loopback, private, link-local and other non-public destinations to "
    f"prevent SSRF; if this destination is intended, set {ALLOWLIST_SETTING} to allow it"
)


class DestinationRefused(ValueError):
    """The destination points at an address Wirepost refuses to send to (SSRF guard)."""

    def __init__(self, message: str, *, host: str, address: str | None, reason: str) -> None:
        super().__init__(message)
        self.host = host
        self.address = address
        self.reason = reason


def validate_destination_url(url: str) -> str:
    """Return ``url`` unchanged if it is an absolute http(s) URL with a host; else ValueError."""
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(
            f"destination URL is too long ({len(url)} characters, at most {MAX_URL_LENGTH})"
        )
    if not url[:8].lower().startswith(("http://", "https://")):
        raise ValueError(f"destination must start with http:// or https://, got {_shorten(url)!r}")
    for position, character in enumerate(url, start=1):
        if character.isspace() or unicodedata.category(character) == "Cc":
            raise ValueError(
                f"destination URL {_shorten(url)!r} contains {character!r} at position "
                f"{position}; percent-encode it (e.g. %20 for a space)"
            )
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port
    except ValueError as error:
        raise ValueError(f"destination URL {_shorten(url)!r} is not valid: {error}") from None
    if not host:
        raise ValueError(f"destination URL {_shorten(url)!r} has no host")
    if "\\" in parts.netloc:
        raise ValueError(f"destination URL {_shorten(url)!r} has a backslash in its host part")
    return url


def _shorten(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


_V4_REFUSED: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
_V6_REFUSED: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("64:ff9b:1::/48", "private"),
    ("100::/64", "reserved"),
    ("2001:2::/48", "benchmarking"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "private"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "private"),
    ("ff00::/8", "multicast"),
)
_REFUSED: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(cidr), reason) for cidr, reason in _V4_REFUSED + _V6_REFUSED
)
# NAT64 well-known prefix and SIIT IPv4-translated addresses: the low 32 bits are IPv4.
_LOW_BITS_EMBEDDING = (
    ipaddress.IPv6Network("64:ff9b::/96"),
    ipaddress.IPv6Network("::ffff:0:0:0/96"),
)
_LOOPBACK_PROBES = (ipaddress.IPv4Address("127.0.0.1"), ipaddress.IPv6Address("::1"))


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if any(address in network for network in _LOW_BITS_EMBEDDING):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.teredo is not None:
        return address.teredo[1]
    return None


def refusal_reason(address: IPAddress) -> str | None:
    """Why ``address`` is refused (``"loopback"``, ``"private"``, ...), or None if public.

    An IPv6 address embedding an IPv4 address gets the IPv4 address's reason.
    """
    for network, reason in _REFUSED:
        if address.version == network.version and address in network:
            return reason
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            return refusal_reason(embedded)
    return None


def _parse_ip(text: str) -> IPAddress | None:
    """The address in ``text``, without an IPv6 zone (``%eth0``), which does not matter here."""
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


_LEGACY_IPV4_PART = re.compile(r"0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*", re.ASCII)


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """``127.1``, ``0x7f.0.0.1``, ``2130706433``: spellings ``inet_aton`` maps onto IPv4."""
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or not all(_LEGACY_IPV4_PART.fullmatch(p) for p in parts):
        return None
    numbers = [
        int(p, 16) if p[:2].lower() == "0x" else int(p, 8 if p[:1] == "0" else 10) for p in parts
    ]
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def _normalize_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host[:-1] if host.endswith(".") and not host.endswith("..") else host


_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(?:\*\.)?{_LABEL}(?:\.{_LABEL})*", re.ASCII)


def _parse_entry(entry: str) -> IPNetwork | str:
    """An allowlist entry as a network, or as a normalized host pattern; ValueError if bad."""
    text = entry.strip().lower()
    where = f"{ALLOWLIST_SETTING} entry {entry!r}"
    if "://" in text:
        raise ValueError(f"{where} is a URL; write just the host name or a CIDR")
    if "/" in text or ":" in text or _parse_ip(text) is not None:
        try:
            return ipaddress.ip_network(text, strict=True)
        except ValueError as error:
            suggestion = ""
            with contextlib.suppress(ValueError):
                suggestion = f", did you mean {ipaddress.ip_network(text, strict=False)}?"
            raise ValueError(
                f"{where} is not a valid CIDR ({error}){suggestion}; "
                "write e.g. 10.1.0.0/16 or ::1/128"
            ) from None
    text = text.removesuffix(".")
    if text == "*":
        raise ValueError(f"{where} would allow every host; run in dev mode instead")
    numeric_tld = text.rsplit(".", 1)[-1].isdigit()
    if len(text) > 253 or not _HOST_NAME.fullmatch(text) or numeric_tld:
        raise ValueError(
            f"{where} is neither a CIDR (e.g. 10.1.0.0/16) nor a host name "
            "(e.g. internal.example.com or *.svc.local)"
        )
    return text


@dataclass(frozen=True)
class DestinationPolicy:
    """Which non-public destinations are allowed. The default refuses them all."""

    allow_private: bool = False
    allowlist: tuple[str, ...] = ()
    _networks: tuple[IPNetwork, ...] = field(init=False, repr=False, compare=False)
    _names: frozenset[str] = field(init=False, repr=False, compare=False)
    _suffixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        parsed = [_parse_entry(entry) for entry in self.allowlist]
        patterns = [p for p in parsed if isinstance(p, str)]
        object.__setattr__(self, "_networks", tuple(p for p in parsed if not isinstance(p, str)))
        object.__setattr__(self, "_names", frozenset(p for p in patterns if not p.startswith("*")))
        object.__setattr__(self, "_suffixes", tuple(p[1:] for p in patterns if p.startswith("*")))

    @classmethod
    def parse(cls, allow_private: bool, entries: Iterable[str]) -> DestinationPolicy:
        """Build a policy from settings; blank entries are skipped, bad ones raise ValueError."""
        cleaned = tuple(entry.strip() for entry in entries if entry.strip())
        return cls(allow_private=allow_private, allowlist=cleaned)

    def check_host(self, host: str) -> None:
        """Refuse an IP-literal or ``localhost`` host in a refused range (DestinationRefused).

        Other names pass: their addresses are checked after resolution (:meth:`check_address`).
        """
        if self.allow_private:
            return
        name = _normalize_host(host)
        address = _parse_ip(name)
        if address is None:
            address = _legacy_ipv4(name)
        if address is not None:
            self._check_ip(host, address, literal=True)
        elif name == "localhost" or name.endswith(".localhost"):
            allowed = self._name_allowed(name) or any(
                probe in network for probe in _LOOPBACK_PROBES for network in self._networks
            )
            if not allowed:
                raise DestinationRefused(
                    f"destination host {host!r} is a loopback name; {_HOW_TO_FIX}"
                    f" (e.g. {ALLOWLIST_SETTING}={name})",
                    host=host,
                    address=None,
                    reason="loopback",
                )

    def check_address(self, host: str, address: str) -> None:
        """Refuse ``address`` (which ``host`` resolved to) if it is not public and not allowed."""
        if self.allow_private or self._name_allowed(_normalize_host(host)):
            return
        parsed = _parse_ip(address)
        if parsed is None:
            raise DestinationRefused(
                f"destination host {host!r} resolved to {address!r}, which is not an IP address",
                host=host,
                address=address,
                reason="unparseable",
            )
        self._check_ip(host, parsed, literal=False)

    def _name_allowed(self, name: str) -> bool:
        return name in self._names or any(name.endswith(suffix) for suffix in self._suffixes)

    def _address_allowed(self, address: IPAddress) -> bool:
        candidates: list[IPAddress] = [address]
        if isinstance(address, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(address)
            if embedded is not None:
                candidates.append(embedded)
        return any(
            candidate.version == network.version and candidate in network
            for candidate in candidates
            for network in self._networks
        )

    def _check_ip(self, host: str, address: IPAddress, *, literal: bool) -> None:
        reason = refusal_reason(address)
        if reason is None or self._address_allowed(address):
            return
        embedded = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
        shown = address if embedded is None or refusal_reason(embedded) is None else embedded
        example = f"{shown}/{shown.max_prefixlen}"
        what = (
            f"destination address {host!r} is"
            if literal
            else f"destination host {host!r} resolves to {address}, which is"
        )
        article = "an" if reason[0] in "aeiouAEIOU" else "a"
        via = f" (IPv4 {shown} inside IPv6)" if shown is not address else ""
        raise DestinationRefused(
            f"{what} {article} {reason} address{via}; {_HOW_TO_FIX}"
            f" (e.g. {ALLOWLIST_SETTING}={example})",
            host=host,
            address=str(address),
            reason=reason,
        )
