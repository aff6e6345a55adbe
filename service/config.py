"""Settings: the single documented list of every knob, and how it is read.

Precedence is flag > ``WIREPOST_*`` environment variable > default. Secrets (database URL,
tokens, signing keys) come only from the environment (or a ``*_FILE`` path), never from flags,
which show up in ``ps``. A bad value raises ``SettingsError`` naming the variable; the CLI turns
that into exit code 2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from wirepost.durations import format_duration, parse_duration

# QStash's public development token (QSTASH_API.md §14), accepted by `wirepost dev` only.
DEV_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0="  # noqa: S105


class SettingsError(ValueError):
    def __init__(self, env: str, reason: str) -> None:
        self.env = env
        super().__init__(f"{env}: {reason}")


def _setting(default: Any, help: str, *, kind: str = "str", secret: bool = False) -> Any:
    return field(default=default, metadata={"help": help, "kind": kind, "secret": secret})


@dataclass(frozen=True)
class Settings:
    """Every setting, its type, default and meaning. ``env_name(field)`` gives its variable."""

    database_url: str | None = _setting(
        None, "Postgres URL (alias DATABASE_URL). Required by serve and migrate.", secret=True
    )
    token: tuple[str, ...] = _setting(
        (),
        "API token(s) clients send as Bearer, comma-separated. Required.",
        kind="list",
        secret=True,
    )
    current_signing_key: str | None = _setting(
        None,
        "Key that signs deliveries. Generated and kept in the database when unset.",
        secret=True,
    )
    next_signing_key: str | None = _setting(
        None, "Key receivers also accept; becomes current on rotation.", secret=True
    )
    host: str = _setting("0.0.0.0", "Address the API listens on.")  # noqa: S104
    port: int = _setting(8080, "Port the API listens on.", kind="int")
    destination_allowlist: tuple[str, ...] = _setting(
        (),
        "CIDRs or host names allowed although private/loopback (e.g. 10.0.0.0/8).",
        kind="list",
    )
    max_body_size: int = _setting(10 * 1024 * 1024, "Largest message body in bytes.", kind="int")
    max_batch_size: int = _setting(
        20 * 1024 * 1024, "Largest POST /v2/batch request body in bytes.", kind="int"
    )
    max_pending_messages: int = _setting(
        20_000,
        "Messages waiting for their commit before publishes get 503 + Retry-After.",
        kind="int",
    )
    max_pending_bytes: int = _setting(
        128 * 1024 * 1024,
        "Body bytes waiting for their commit before publishes get 503 + Retry-After.",
        kind="int",
    )
    body_timeout: timedelta = _setting(
        timedelta(seconds=60),
        "Longest a request body may take to arrive; a slower one gets 408.",
        kind="duration",
    )
    idle_timeout: timedelta = _setting(
        timedelta(seconds=75),
        "Longest a client connection may sit idle, or take to send a request's head, before "
        "it is closed.",
        kind="duration",
    )
    default_retries: int = _setting(3, "Retries when Upstash-Retries is absent.", kind="int")
    max_retries: int = _setting(20, "Largest Upstash-Retries accepted.", kind="int")
    max_delay: timedelta = _setting(
        timedelta(days=365), "Longest Upstash-Delay / Not-Before accepted.", kind="duration"
    )
    attempt_timeout: timedelta = _setting(
        timedelta(minutes=15),
        "Per-attempt HTTP timeout (Upstash-Timeout may shorten it).",
        kind="duration",
    )
    workers: int = _setting(
        1, "Server processes sharing the port (each runs API and loops).", kind="int"
    )
    delivery_concurrency: int = _setting(
        800,
        "HTTP deliveries in flight per process (each takes an open file: a socket).",
        kind="int",
    )
    delivery_batch_size: int = _setting(400, "Deliveries claimed per query.", kind="int")
    database_pool_min: int = _setting(
        8,
        "Database connections each process keeps open, each with the publish and delivery "
        "statements prepared (more open as needed).",
        kind="int",
    )
    delivery_max_bytes: int = _setting(
        128 * 1024 * 1024,
        "Body bytes of deliveries in flight per process (one body may go past it).",
        kind="int",
    )
    poll_interval: timedelta = _setting(
        timedelta(seconds=1), "Longest sleep of an idle loop between polls.", kind="duration"
    )
    lease: timedelta = _setting(
        timedelta(seconds=30),
        "How long a claimed delivery stays leased without renewal.",
        kind="duration",
    )
    dedup_window: timedelta = _setting(
        timedelta(minutes=10), "How long a deduplication id is remembered.", kind="duration"
    )
    retention: timedelta = _setting(
        timedelta(days=7), "How long finished messages and events are kept.", kind="duration"
    )
    dlq_retention: timedelta = _setting(
        timedelta(days=7), "How long dead-letter entries are kept.", kind="duration"
    )
    response_body_limit: int = _setting(
        64 * 1024, "Bytes of a destination's response body kept in logs and the DLQ.", kind="int"
    )
    run_api: bool = _setting(True, "Serve the HTTP API in this process.", kind="bool")
    run_delivery: bool = _setting(True, "Run the delivery loop in this process.", kind="bool")
    run_scheduler: bool = _setting(True, "Run the cron schedule loop in this process.", kind="bool")
    log_level: str = _setting("info", "debug, info, warning or error.")
    log_format: str = _setting("text", "text or json.")
    dev: bool = _setting(
        False, "Dev mode: loopback destinations allowed (set by `wirepost dev`).", kind="bool"
    )
    data_dir: Path | None = _setting(None, "Embedded Postgres data folder (dev mode).", kind="path")

    def __post_init__(self) -> None:
        _check(self.port, 0 <= self.port <= 65535, "port", "must be between 0 and 65535")
        for name in (
            "max_body_size",
            "delivery_concurrency",
            "delivery_batch_size",
            "database_pool_min",
            "response_body_limit",
            "workers",
            "max_batch_size",
            "max_pending_messages",
            "max_pending_bytes",
            "delivery_max_bytes",
        ):
            _check(getattr(self, name), getattr(self, name) > 0, name, "must be positive")
        _check(
            self.default_retries,
            0 <= self.default_retries <= self.max_retries,
            "default_retries",
            "must be between 0 and WIREPOST_MAX_RETRIES",
        )
        for name in ("poll_interval", "lease", "attempt_timeout", "body_timeout", "idle_timeout"):
            _check(
                getattr(self, name),
                getattr(self, name) > timedelta(0),
                name,
                "must be longer than 0s",
            )
        _check(
            self.log_level,
            self.log_level in ("debug", "info", "warning", "error"),
            "log_level",
            "must be debug, info, warning or error",
        )
        _check(
            self.log_format,
            self.log_format in ("text", "json"),
            "log_format",
            "must be text or json",
        )
        for key in (self.current_signing_key, self.next_signing_key):
            if key is not None and len(key.encode()) < 32:
                raise SettingsError(
                    "WIREPOST_CURRENT_SIGNING_KEY/NEXT_SIGNING_KEY",
                    "signing keys must be at least 32 bytes (try `wirepost keygen`)",
                )
        if (self.current_signing_key is None) != (self.next_signing_key is None):
            raise SettingsError(
                "WIREPOST_NEXT_SIGNING_KEY",
                "set both WIREPOST_CURRENT_SIGNING_KEY and WIREPOST_NEXT_SIGNING_KEY, or neither",
            )

    def redacted(self) -> dict[str, str]:
        """The effective settings as text, secrets replaced (for `wirepost config`)."""
        shown = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata["secret"] and value:
                shown[env_name(f.name)] = "<set>"
            else:
                shown[env_name(f.name)] = _render(value)
        return shown


def _check(value: object, ok: bool, name: str, reason: str) -> None:
    if not ok:
        shown = format_duration(value) if isinstance(value, timedelta) else repr(value)
        raise SettingsError(env_name(name), f"{reason} (got {shown})")


def env_name(field_name: str) -> str:
    return "WIREPOST_" + field_name.upper()


def _render(value: object) -> str:
    if isinstance(value, tuple):
        return ",".join(value)
    if isinstance(value, timedelta):
        return f"{int(value.total_seconds())}s"
    return "" if value is None else str(value)


_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def cast_setting(kind: str, raw: str, env: str) -> Any:
    text = raw.strip()
    try:
        if kind == "int":
            return int(text)
        if kind == "bool":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError("must be true or false")
        if kind == "duration":
            return parse_duration(text)
        if kind == "list":
            return tuple(item.strip() for item in text.split(",") if item.strip())
        if kind == "path":
            return Path(text).expanduser()
    except ValueError as exc:
        raise SettingsError(env, f"{exc} (got {raw!r})") from None
    return text


def settings_fields() -> list[dataclasses.Field[Any]]:
    return list(dataclasses.fields(Settings))


def load_settings(
    environ: Mapping[str, str], overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Build Settings from ``WIREPOST_*`` variables, then apply ``overrides`` (parsed flags).

    ``WIREPOST_<NAME>_FILE`` reads a secret from a file; ``DATABASE_URL`` is an alias of
    ``WIREPOST_DATABASE_URL``.
    """
    values: dict[str, Any] = {}
    for f in settings_fields():
        env = env_name(f.name)
        raw = environ.get(env)
        if raw is None and f.metadata["secret"] and environ.get(env + "_FILE"):
            try:
                raw = Path(environ[env + "_FILE"]).read_text().strip()
            except OSError as exc:
                raise SettingsError(env + "_FILE", f"cannot read it: {exc}") from None
        if raw is None and f.name == "database_url":
            raw = environ.get("DATABASE_URL")
        if raw is not None and raw != "":
            values[f.name] = cast_setting(f.metadata["kind"], raw, env)
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = value
    return Settings(**values)


_FLAG_NAMES = {
    "run_api": "--no-api",
    "run_delivery": "--no-delivery",
    "run_scheduler": "--no-scheduler",
    "data_dir": "--data-dir (dev)",
}


def _default_text(value: object) -> str:
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
            if seconds >= size and seconds % size == 0:
                return f"{seconds // size}{unit}"
        return "0s"
    if value is None or value == ():
        return "—"
    return _render(value)


def settings_markdown() -> str:
    """The README's settings table, generated from ``Settings`` so the two cannot drift."""
    lines = ["| Variable | Flag | Default | Meaning |", "|---|---|---|---|"]
    for f in settings_fields():
        if f.metadata["secret"] or f.name == "dev":
            flag = "(env only)"
        else:
            flag = "`" + _FLAG_NAMES.get(f.name, "--" + f.name.replace("_", "-")) + "`"
        lines.append(
            f"| `{env_name(f.name)}` | {flag} | `{_default_text(f.default)}` | "
            f"{f.metadata['help']} |"
        )
    return "\n".join(lines)
