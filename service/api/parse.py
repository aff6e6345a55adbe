"""Turns a publish request (raw target, headers, query config, body) into domain values.

Nothing is stored here. Every problem raises ``InvalidRequest`` naming the header and saying how
to fix it. Header names are case-insensitive; ``upstash-*`` query parameters (webhook mode) act
as headers when the header itself is absent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, unquote_plus

from multidict import CIMultiDict, CIMultiDictProxy

from wirepost.config import Settings
from wirepost.destination import validate_destination_url
from wirepost.domain import Headers, canonical_header
from wirepost.durations import parse_duration
from wirepost.errors import InvalidRequest
from wirepost.retry_delay import RetryDelay

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
MAX_LABELS = 16
MAX_LABEL_LENGTH = 256
MAX_DEDUP_ID_LENGTH = 512

# Never forwarded by Upstash-Header-Forward: hop-by-hop, framing, our own auth and config.
_NOT_FORWARDED = frozenset(
    {
        "authorization",
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "proxy-connection",
        "expect",
    }
)


@dataclass(frozen=True)
class Target:
    """The destination taken from the raw request target, and the config passed as query."""

    destination: str
    query_config: dict[str, str]

    @property
    def is_url(self) -> bool:
        return self.destination.lower().startswith(("http://", "https://"))


def split_target(raw_path: str, prefix: str) -> Target:
    """Destination = the raw remainder after ``prefix`` (never percent-decoded), minus
    ``qstash_token`` and ``upstash-*`` query parameters, which configure the publish."""
    rest = raw_path[len(prefix) :]
    path, _, query = rest.partition("?")
    kept, config = [], {}
    for pair in query.split("&") if query else []:
        key, _, value = pair.partition("=")
        name = unquote_plus(key).lower()
        if name == "qstash_token":
            continue
        if name.startswith("upstash-"):
            config[name] = unquote_plus(value)
            continue
        kept.append(pair)
    destination = _repair(path) + ("?" + "&".join(kept) if kept else "")
    return Target(destination, config)


def _repair(path: str) -> str:
    lowered = path.lower()
    if lowered.startswith(("http%3a", "https%3a")):
        return unquote(path)  # a fully percent-encoded destination, decoded once
    for scheme in ("https:/", "http:/"):
        if lowered.startswith(scheme) and not lowered.startswith(scheme + "/"):
            return scheme + "/" + path[len(scheme) :]  # a proxy merged the slashes
    return path


class PublishHeaders:
    """Case-insensitive view of request headers, falling back to ``upstash-*`` query config."""

    def __init__(self, headers: Mapping[str, str], query_config: Mapping[str, str]) -> None:
        self.headers = headers
        self.query_config = query_config

    def get(self, name: str) -> str | None:
        value = self.headers.get(name)
        if value is None and self.query_config:  # usually empty: most names asked for are absent
            value = self.query_config.get(name.lower())
        return value.strip() if value is not None else None

    def items(self) -> Iterable[tuple[str, str]]:
        yield from self.headers.items()
        for name, value in self.query_config.items():
            if name not in self.headers:
                yield name, value


def parse_bool(header: str, value: str | None, default: bool = False) -> bool:
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise InvalidRequest(f"{header} must be true or false, got {value!r}")


def parse_int(header: str, value: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise InvalidRequest(f"{header} must be a whole number, got {value!r}") from None
    if not low <= number <= high:
        raise InvalidRequest(f"{header} must be between {low} and {high}, got {number}")
    return number


def parse_delay(header: str, value: str) -> timedelta:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise InvalidRequest(f"{header}: {exc}") from None


def parse_method(header: str, value: str | None) -> str:
    method = (value or "POST").upper()
    if method not in METHODS:
        raise InvalidRequest(f"{header} must be one of {', '.join(METHODS)}, got {value!r}")
    return method


def parse_url(header: str, value: str) -> str:
    try:
        return validate_destination_url(value)
    except ValueError as exc:
        raise InvalidRequest(f"{header}: {exc}") from None


def parse_retry_delay(header: str, value: str | None) -> str | None:
    if not value:
        return None
    try:
        return RetryDelay.parse(value).text
    except ValueError as exc:
        raise InvalidRequest(f"{header}: {exc}") from None


def parse_labels(value: str | None) -> tuple[str, ...]:
    labels = tuple(part.strip() for part in (value or "").split(",") if part.strip())
    if len(labels) > MAX_LABELS or any(len(label) > MAX_LABEL_LENGTH for label in labels):
        raise InvalidRequest(
            f"Upstash-Label takes at most {MAX_LABELS} comma-separated labels "
            f"of at most {MAX_LABEL_LENGTH} characters each"
        )
    return labels


def forwarded_headers(headers: PublishHeaders, prefix: str = "upstash-forward-") -> Headers:
    """Headers the destination receives: ``Content-Type`` and ``<prefix><Name>`` as ``Name``;
    with ``Upstash-Header-Forward: true`` every incoming header that is not config or transport."""
    out: CIMultiDict[str] = CIMultiDict()
    forward_all = parse_bool("Upstash-Header-Forward", headers.get("Upstash-Header-Forward"))
    for name, value in headers.items():  # webhook query config may carry upstash-forward-*
        lowered = name.lower()
        if lowered.startswith(prefix) and len(lowered) > len(prefix):
            out.add(canonical_header(name[len(prefix) :]), value)
        elif lowered == "content-type" or (
            forward_all and lowered not in _NOT_FORWARDED and not lowered.startswith("upstash-")
        ):
            out.add(canonical_header(name), value)
    return {str(name): out.getall(name) for name in out}


def not_before(headers: PublishHeaders, settings: Settings, now: datetime) -> datetime:
    """When the first attempt may start: Upstash-Not-Before (Unix seconds) wins over
    Upstash-Delay; both bounded by WIREPOST_MAX_DELAY."""
    raw = headers.get("Upstash-Not-Before")
    if raw:
        seconds = parse_int("Upstash-Not-Before", raw, 0, 10**11)
        when = datetime.fromtimestamp(seconds, UTC)
        if when - now > settings.max_delay:
            raise InvalidRequest(
                "Upstash-Not-Before is further ahead than WIREPOST_MAX_DELAY allows"
            )
        return max(when, now)
    raw = headers.get("Upstash-Delay")
    if raw:
        delay = parse_delay("Upstash-Delay", raw)
        if delay > settings.max_delay:
            raise InvalidRequest(f"Upstash-Delay {raw} is longer than WIREPOST_MAX_DELAY allows")
        return now + delay
    return now


def timeout_ms(headers: PublishHeaders, header: str = "Upstash-Timeout") -> int | None:
    raw = headers.get(header)
    if not raw:
        return None
    delay = parse_delay(header, raw)
    if delay <= timedelta(0):
        raise InvalidRequest(f"{header} must be longer than 0s, got {raw!r}")
    return max(1, int(delay.total_seconds() * 1000))


def dedup_key(
    headers: PublishHeaders, destination: str, body: bytes, forwarded: Headers, *, scope: str = ""
) -> str | None:
    """The deduplication key, if any. ``scope`` separates the endpoints of one group publish."""
    explicit = headers.get("Upstash-Deduplication-Id")
    if explicit:
        if len(explicit) > MAX_DEDUP_ID_LENGTH:
            raise InvalidRequest(
                f"Upstash-Deduplication-Id is longer than {MAX_DEDUP_ID_LENGTH} characters"
            )
        return f"id:{scope}\n{explicit}" if scope else "id:" + explicit
    content = parse_bool(
        "Upstash-Content-Based-Deduplication", headers.get("Upstash-Content-Based-Deduplication")
    )
    if not content:
        return None
    digest = hashlib.sha256()
    for part in (
        destination.encode(),
        body,
        *sorted(f"{k}:{','.join(v)}".encode() for k, v in forwarded.items()),
    ):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return "content:" + digest.hexdigest()


def header_view(request_headers: CIMultiDictProxy[str], target: Target) -> PublishHeaders:
    return PublishHeaders(request_headers, target.query_config)


MAX_FLOW_KEY_LENGTH = 256
MAX_FLOW_PARALLELISM = 10_000
MAX_FLOW_RATE = 1_000_000
MAX_FLOW_PERIOD_SECONDS = 7 * 86400
_FLOW_FORMAT = (
    "use comma-separated key=value pairs, e.g. "
    "Upstash-Flow-Control-Value: parallelism=5, rate=10, period=1m"
)


def flow_control(headers: PublishHeaders) -> tuple[str, dict[str, int | None]] | None:
    """``Upstash-Flow-Control-Key`` and ``-Value`` (``parallelism=<n>, rate=<n>,
    period=<duration|seconds>``; at least one of parallelism and rate; period ≤ 1 week)."""
    key = headers.get("Upstash-Flow-Control-Key")
    value = headers.get("Upstash-Flow-Control-Value")
    if not key and not value:
        return None
    if not key or len(key) > MAX_FLOW_KEY_LENGTH:
        raise InvalidRequest(
            "Upstash-Flow-Control-Value needs Upstash-Flow-Control-Key (a name "
            f"of at most {MAX_FLOW_KEY_LENGTH} characters)"
        )
    if not value:
        raise InvalidRequest(
            f"Upstash-Flow-Control-Key needs Upstash-Flow-Control-Value: {_FLOW_FORMAT}"
        )
    limits: dict[str, int | None] = {"parallelism": None, "rate": None, "period": 1}
    for part in value.split(","):
        name, sep, raw = (p.strip() for p in part.partition("="))
        if not sep or not raw or name not in limits:
            raise InvalidRequest(f"Upstash-Flow-Control-Value {value!r} is invalid: {_FLOW_FORMAT}")
        if name == "period":
            seconds = (
                int(raw)
                if raw.isdigit()
                else parse_delay("Upstash-Flow-Control-Value period", raw).total_seconds()
            )
            if not 1 <= seconds <= MAX_FLOW_PERIOD_SECONDS:
                raise InvalidRequest("Upstash-Flow-Control-Value period must be from 1s to 1 week")
            limits["period"] = int(seconds)
        else:
            high = MAX_FLOW_PARALLELISM if name == "parallelism" else MAX_FLOW_RATE
            limits[name] = parse_int(f"Upstash-Flow-Control-Value {name}", raw, 1, high)
    if limits["parallelism"] is None and limits["rate"] is None:
        raise InvalidRequest(
            f"Upstash-Flow-Control-Value needs parallelism and/or rate: {_FLOW_FORMAT}"
        )
    return key, limits


def parse_redact(value: str | None) -> tuple[str, ...] | None:
    """``Upstash-Redact-Fields``: ``body``, ``header`` (every header) or ``header[Name]``;
    ``headers``/``headers[Name]`` are accepted as the docs spell them."""
    if not value:
        return None
    fields: list[str] = []
    for raw in value.split(","):
        token = raw.strip()
        lowered = token.lower()
        if lowered == "body":
            fields.append("body")
        elif lowered in ("header", "headers"):
            fields.append("header")
        elif (
            lowered.startswith(("header[", "headers["))
            and token.endswith("]")
            and (name := token[token.index("[") + 1 : -1].strip())
        ):
            fields.append(f"header[{canonical_header(name)}]")
        else:
            raise InvalidRequest(
                f"Upstash-Redact-Fields: unknown field {token!r}; use body, "
                "header or header[Name], comma-separated"
            )
    return tuple(dict.fromkeys(fields))
