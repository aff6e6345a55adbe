"""Builds the Message a publish stores, from parsed headers (shared by publish, enqueue, batch
and schedules). Pure: no I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from wirepost.api import parse
from wirepost.api.parse import PublishHeaders
from wirepost.config import Settings
from wirepost.domain import Headers, Message, canonical_header, new_id
from wirepost.errors import InvalidRequest

_CALLBACK_CONFIG = ("method", "timeout", "retries", "retry-delay", "delay")


def callback_config(headers: PublishHeaders, kind: str, settings: Settings) -> dict[str, object]:
    """``Upstash-<Kind>-Method/-Timeout/-Retries/-Retry-Delay/-Delay`` of a (failure) callback."""
    prefix = f"Upstash-{kind}-"
    config: dict[str, object] = {}
    method = headers.get(prefix + "Method")
    if method:
        config["method"] = parse.parse_method(prefix + "Method", method)
    timeout = parse.timeout_ms(headers, prefix + "Timeout")
    if timeout is not None:
        config["timeout_ms"] = timeout
    retries = headers.get(prefix + "Retries")
    if retries:
        config["retries"] = parse.parse_int(prefix + "Retries", retries, 0, settings.max_retries)
    retry_delay = parse.parse_retry_delay(
        prefix + "Retry-Delay", headers.get(prefix + "Retry-Delay")
    )
    if retry_delay:
        config["retry_delay"] = retry_delay
    delay = headers.get(prefix + "Delay")
    if delay:
        config["delay_ms"] = int(parse.parse_delay(prefix + "Delay", delay).total_seconds() * 1000)
    return config


def callback_headers(headers: PublishHeaders, kind: str) -> Headers | None:
    """Headers for the (failure) callback: ``Upstash-<Kind>-Forward-X`` and, as the Python SDK
    sends them, ``Upstash-<Kind>-X`` for any X that is not a config suffix (DESIGN decision 5)."""
    prefix = f"upstash-{kind.lower()}-"
    out: Headers = {}
    for name, value in headers.items():  # headers, then webhook query config
        lowered = name.lower()
        if not lowered.startswith(prefix) or len(lowered) == len(prefix):
            continue
        suffix = name[len(prefix) :]
        if suffix.lower().startswith("forward-"):
            suffix = suffix[len("forward-") :]
        elif suffix.lower() in _CALLBACK_CONFIG:
            continue
        if suffix:
            out.setdefault(canonical_header(suffix), []).append(value)
    return out or None


def build_template(
    headers: PublishHeaders,
    *,
    body: bytes,
    settings: Settings,
    now: datetime,
    caller_ip: str | None,
) -> Message:
    """Everything a publish stores except its id and destination (filled per destination)."""
    retries = headers.get("Upstash-Retries")
    callback = headers.get("Upstash-Callback")
    failure_callback = headers.get("Upstash-Failure-Callback")
    options = {
        "callback": callback_config(headers, "Callback", settings),
        "failure": callback_config(headers, "Failure-Callback", settings),
    }
    flow = parse.flow_control(headers)
    return Message(
        id="",
        url="",
        method=parse.parse_method("Upstash-Method", headers.get("Upstash-Method")),
        headers=parse.forwarded_headers(headers),
        body=body,
        max_retries=(
            parse.parse_int("Upstash-Retries", retries, 0, settings.max_retries)
            if retries
            else settings.default_retries
        ),
        not_before=parse.not_before(headers, settings, now),
        created_at=now,
        retry_delay=parse.parse_retry_delay(
            "Upstash-Retry-Delay", headers.get("Upstash-Retry-Delay")
        ),
        timeout_ms=parse.timeout_ms(headers),
        caller_ip=caller_ip,
        labels=parse.parse_labels(headers.get("Upstash-Label")),
        callback=parse.parse_url("Upstash-Callback", callback) if callback else None,
        callback_headers=callback_headers(headers, "Callback"),
        failure_callback=(
            parse.parse_url("Upstash-Failure-Callback", failure_callback)
            if failure_callback
            else None
        ),
        failure_callback_headers=callback_headers(headers, "Failure-Callback"),
        callback_options={k: v for k, v in options.items() if v} or None,
        flow_control_key=flow[0] if flow else None,
        flow_control=flow[1] if flow else None,
        redact=parse.parse_redact(headers.get("Upstash-Redact-Fields")),
    )


_TIME_OR_ALL_HEADERS: Final = frozenset(
    {"upstash-delay", "upstash-not-before", "upstash-header-forward"}
)


def _config_key(headers: PublishHeaders) -> tuple[tuple[str, str], ...] | None:
    """What a template depends on besides the time and the caller: the ``Upstash-*`` headers and
    ``Content-Type``, names lower-cased. None when the template also depends on the time
    (``Upstash-Delay``, ``-Not-Before``), on every header (``Upstash-Header-Forward``) or on
    webhook query config (rare): such publishes build theirs each time."""
    if headers.query_config:
        return None
    key = []
    for name, value in headers.headers.items():
        lowered = name.lower()
        if lowered.startswith("upstash-") or lowered == "content-type":
            if lowered in _TIME_OR_ALL_HEADERS:
                return None
            key.append((lowered, value))
    return tuple(key)


class TemplateCache:
    """Templates of publishes by the headers that configure them, kept for the process.

    Publishers repeat the same few header sets, and building a template from headers (every
    ``Upstash-*`` header looked up and parsed) took 27-38 µs of a single publish's CPU on the
    2-core benchmark machine; a cached one is only stamped with its time and caller. Holds at
    most ``size`` templates (the oldest goes first); headers that fail validation raise and are
    not kept."""

    def __init__(self, settings: Settings, size: int = 512) -> None:
        self._settings = settings
        self._size = size
        self._kept: dict[tuple[tuple[str, str], ...], Message] = {}

    def template(self, headers: PublishHeaders, *, now: datetime, caller_ip: str | None) -> Message:
        """``build_template(headers, body=b"", ...)``, from the cache when it can be."""
        key = _config_key(headers)
        kept = None if key is None else self._kept.get(key)
        if kept is not None:
            # Without Upstash-Delay / -Not-Before a template's first attempt is due at once.
            return kept.evolve(created_at=now, not_before=now, caller_ip=caller_ip)
        built = build_template(
            headers, body=b"", settings=self._settings, now=now, caller_ip=caller_ip
        )
        if key is not None:
            if len(self._kept) >= self._size:
                del self._kept[next(iter(self._kept))]
            self._kept[key] = built
        return built


def for_destination(
    template: Message, headers: PublishHeaders, url: str, *, body: bytes, **fields: object
) -> Message:
    """The message of ``body`` for one destination URL, with a fresh id and its deduplication
    key (a template may be shared by publishes of different bodies)."""
    if fields.get("queue_name") and template.flow_control_key:
        raise InvalidRequest(
            "Upstash-Flow-Control-Key cannot be combined with a queue: the "
            "queue's parallelism already limits it (POST /v2/queues)"
        )
    scope = url if fields.get("topic_name") or template.topic_name else ""
    key = parse.dedup_key(headers, url, body, template.headers, scope=scope)
    return template.evolve(id=new_id("msg_"), url=url, body=body, dedup_id=key, **fields)


def with_body(message: Message, headers: PublishHeaders, body: bytes) -> Message:
    """What ``for_destination`` makes of ``message``'s template, URL and fields for another
    ``body``: the same message with a fresh id and that body's deduplication key."""
    scope = message.url if message.topic_name else ""
    key = parse.dedup_key(headers, message.url, body, message.headers, scope=scope)
    return message.evolve(id=new_id("msg_"), body=body, dedup_id=key)
