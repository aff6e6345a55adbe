"""TemplateCache gives exactly what building the template afresh gives, for every kind of
header set, at any time and for any caller; headers that fail validation still fail (and are not
kept); the cache stays within its size. Pure: no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from multidict import CIMultiDict

from tests.conftest import TEST_TOKEN
from wirepost.api.parse import PublishHeaders
from wirepost.api.spec import TemplateCache, build_template
from wirepost.config import Settings
from wirepost.errors import InvalidRequest

SETTINGS = Settings(database_url="postgresql://localhost/x", token=(TEST_TOKEN,))
T0 = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
LATER = T0 + timedelta(minutes=3, microseconds=17)

HEADER_SETS = {
    "none": {},
    "transport only": {"Host": "wirepost", "Authorization": "Bearer x", "Accept": "*/*"},
    "content type": {"Content-Type": "application/json", "User-Agent": "curl/8"},
    "forwarded": {"Content-Type": "text/plain", "Upstash-Forward-X-Tenant": "acme"},
    "retries and labels": {"Upstash-Retries": "7", "Upstash-Label": "billing"},
    "callbacks": {
        "Upstash-Callback": "https://example.com/cb",
        "Upstash-Callback-Retries": "2",
        "Upstash-Failure-Callback": "https://example.com/failed",
        "Upstash-Failure-Callback-Forward-X-Why": "because",
    },
    "flow control": {"Upstash-Flow-Control-Key": "k", "Upstash-Flow-Control-Value": "rate=5"},
    "method and timeout": {"Upstash-Method": "put", "Upstash-Timeout": "30s"},
    "delay": {"Upstash-Delay": "10m"},
    "not before": {"Upstash-Not-Before": str(int(T0.timestamp()) + 3600)},
    "forward everything": {"Upstash-Header-Forward": "true", "X-Request-Id": "r-1"},
}


def _headers(values: dict[str, str], query: dict[str, str] | None = None) -> PublishHeaders:
    return PublishHeaders(CIMultiDict(values), query or {})


def _fresh(headers: PublishHeaders, now: datetime, caller_ip: str | None):
    return build_template(headers, body=b"", settings=SETTINGS, now=now, caller_ip=caller_ip)


@pytest.mark.parametrize("name", HEADER_SETS)
def test_a_cached_template_equals_one_built_afresh(name: str) -> None:
    cache = TemplateCache(SETTINGS)
    headers = _headers(HEADER_SETS[name])
    first = cache.template(headers, now=T0, caller_ip="10.0.0.1")
    again = cache.template(headers, now=LATER, caller_ip="10.0.0.2")
    assert first == _fresh(headers, T0, "10.0.0.1")
    assert again == _fresh(headers, LATER, "10.0.0.2")


def test_header_names_in_any_case_share_a_template() -> None:
    cache = TemplateCache(SETTINGS, size=4)
    cache.template(_headers({"Upstash-Retries": "2"}), now=T0, caller_ip=None)
    lower = _headers({"upstash-retries": "2"})
    assert cache.template(lower, now=LATER, caller_ip=None) == _fresh(lower, LATER, None)
    assert len(cache._kept) == 1


def test_query_config_is_honoured() -> None:
    cache = TemplateCache(SETTINGS)
    headers = _headers({"Upstash-Retries": "2"})
    cache.template(headers, now=T0, caller_ip=None)
    with_query = _headers({"Upstash-Retries": "2"}, {"upstash-label": "from-query"})
    got = cache.template(with_query, now=LATER, caller_ip=None)
    assert got.labels == ("from-query",)
    assert got == _fresh(with_query, LATER, None)


def test_invalid_headers_raise_every_time_and_are_not_kept() -> None:
    cache = TemplateCache(SETTINGS)
    bad = _headers({"Upstash-Retries": "many"})
    for _ in range(2):
        with pytest.raises(InvalidRequest, match="Upstash-Retries"):
            cache.template(bad, now=T0, caller_ip=None)
    assert not cache._kept


def test_the_cache_keeps_at_most_its_size_dropping_the_oldest() -> None:
    cache = TemplateCache(SETTINGS, size=3)
    for n in range(5):
        cache.template(_headers({"Upstash-Label": f"l{n}"}), now=T0, caller_ip=None)
    assert [dict(key)["upstash-label"] for key in cache._kept] == ["l2", "l3", "l4"]


def test_forwarding_every_header_builds_each_publishs_own() -> None:
    cache = TemplateCache(SETTINGS)
    for request_id in ("r-1", "r-2"):
        headers = _headers({"Upstash-Header-Forward": "true", "X-Request-Id": request_id})
        got = cache.template(headers, now=T0, caller_ip=None)
        assert got.headers["X-Request-Id"] == [request_id]
