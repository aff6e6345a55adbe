"""Where the client connects, with which token, how long it waits and how it retries. Pure:
the environment is passed in as a mapping.

Base URL: the argument, else ``WIREPOST_URL``, else ``QSTASH_URL``, else ``http://127.0.0.1:8080``
(where ``wirepost dev`` listens). Token: the argument, else ``WIREPOST_TOKEN``, else
``QSTASH_TOKEN``; a comma-separated list (the server's own ``WIREPOST_TOKEN`` format) gives its
first entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_BASE_URL = "http://127.0.0.1:8080"
URL_ENV_VARS = ("WIREPOST_URL", "QSTASH_URL")
TOKEN_ENV_VARS = ("WIREPOST_TOKEN", "QSTASH_TOKEN")
DEFAULT_TIMEOUT = 60.0
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True)
class RetryPolicy:
    """Retries after transport errors (no HTTP answer), after a 503 answer with a
    ``Retry-After`` header and after a 408 (the server turned the call away before acting on it:
    too many publishes pending, or the body arrived too slowly); never after any other HTTP
    error answer.

    Before retry ``n`` (1, 2, ...) the client waits ``min(max_delay, initial_delay *
    multiplier ** (n - 1))`` seconds: with the defaults 0.1, 0.2, 0.4, 0.8, 1.6 s (five retries,
    3.1 s in all). A request that may have reached the server (the connection broke after it was
    sent) is retried only when repeating it is harmless: reads, deletes, upserts, and publishes
    that carry a deduplication id (see ``idempotent``). After a 503 with ``Retry-After`` the
    wait is the longer of the two (``Retry-After`` capped at 60 s).
    """

    retries: int = 5
    initial_delay: float = 0.1
    max_delay: float = 5.0
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError(f"retries must be 0 or more, got {self.retries}")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("initial_delay and max_delay must be 0 or more seconds")
        if self.multiplier < 1:
            raise ValueError(f"multiplier must be at least 1, got {self.multiplier}")

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based)."""
        return float(min(self.max_delay, self.initial_delay * self.multiplier ** (retry - 1)))


NO_RETRY = RetryPolicy(retries=0)


@dataclass(frozen=True)
class ClientSettings:
    base_url: str
    token: str
    retry: RetryPolicy
    timeout: float


def _first(names: tuple[str, ...], environ: Mapping[str, str]) -> str | None:
    for name in names:
        value = environ.get(name, "").strip()
        if value:
            return value
    return None


def resolve_settings(
    base_url: str | None,
    token: str | None,
    *,
    retry: RetryPolicy | bool | None,
    timeout: float,
    environ: Mapping[str, str],
) -> ClientSettings:
    """Arguments first, then the environment; raises ValueError when no token is found."""
    url = (base_url or _first(URL_ENV_VARS, environ) or DEFAULT_BASE_URL).strip().rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must start with http:// or https://, got {url!r}")
    found = token or _first(TOKEN_ENV_VARS, environ)
    given = (found or "").split(",")[0].strip()
    if not given:
        raise ValueError(
            "no token: pass token=... or set WIREPOST_TOKEN (or QSTASH_TOKEN) to one of the "
            "server's WIREPOST_TOKEN values"
        )
    if timeout <= 0:
        raise ValueError(f"timeout must be a positive number of seconds, got {timeout}")
    if retry is None or retry is True:
        policy = RetryPolicy()
    elif retry is False:
        policy = NO_RETRY
    else:
        policy = retry
    return ClientSettings(url, given, policy, float(timeout))
