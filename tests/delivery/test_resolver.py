"""GuardedResolver against a real local aiohttp server: what a refused delivery looks like."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from wirepost.delivery.resolver import GuardedResolver, ResolutionRefused, refused_by_guard
from wirepost.destination import DestinationPolicy, DestinationRefused


class LocalServer:
    """A 127.0.0.1 server on a free port that counts the requests it gets."""

    def __init__(self) -> None:
        self.hosts: list[str] = []
        self.port = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.hosts.append(request.headers.get("Host", ""))
        return web.Response(text="ok")


class StaticResolver(AbstractResolver):
    """Answers from a table (a stand-in for DNS), or fails like a name that does not exist."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []
        self.closed = False

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for address in self.table[host]
        ]

    async def close(self) -> None:
        self.closed = True


@pytest.fixture
async def server() -> AsyncIterator[LocalServer]:
    local = LocalServer()
    app = web.Application()
    app.router.add_get("/", local.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    local.port = runner.addresses[0][1]
    yield local
    await runner.cleanup()


async def _get(resolver: AbstractResolver, url: str) -> int:
    connector = aiohttp.TCPConnector(resolver=resolver)
    async with aiohttp.ClientSession(connector=connector) as session, session.get(url) as response:
        await response.read()
        return response.status


async def test_guarded_resolver_refusal_surfaces_as_client_connector_dns_error(
    server: LocalServer,
) -> None:
    resolver = GuardedResolver(DestinationPolicy())
    with pytest.raises(aiohttp.ClientConnectorDNSError) as caught:
        await _get(resolver, f"http://localhost:{server.port}/")
    error = caught.value
    assert isinstance(error, aiohttp.ClientError)
    assert isinstance(error.__cause__, ResolutionRefused)
    assert isinstance(error.__cause__.__cause__, DestinationRefused)
    assert error.os_error is error.__cause__
    assert "WIREPOST_DESTINATION_ALLOWLIST" in str(error)
    assert server.hosts == []


async def test_refused_by_guard_finds_the_refusal_behind_the_client_error(
    server: LocalServer,
) -> None:
    resolver = GuardedResolver(DestinationPolicy())
    with pytest.raises(aiohttp.ClientConnectorDNSError) as caught:
        await _get(resolver, f"http://localhost:{server.port}/")
    refusal = refused_by_guard(caught.value)
    assert refusal is not None
    assert (refusal.host, refusal.reason) == ("localhost", "loopback")
    assert refusal.address in {"127.0.0.1", "::1"}


async def test_ordinary_dns_failure_is_not_a_guard_refusal() -> None:
    resolver = GuardedResolver(DestinationPolicy(), inner=StaticResolver({}))
    with pytest.raises(aiohttp.ClientConnectorDNSError) as caught:
        await _get(resolver, "http://no-such-host.test/")
    assert isinstance(caught.value.__cause__, socket.gaierror)
    assert refused_by_guard(caught.value) is None


async def test_allowlisted_loopback_cidr_reaches_the_server(server: LocalServer) -> None:
    policy = DestinationPolicy.parse(False, ["127.0.0.0/8", "::1/128"])
    status = await _get(GuardedResolver(policy), f"http://localhost:{server.port}/")
    assert status == 200
    assert server.hosts == [f"localhost:{server.port}"]


async def test_allowlisted_host_name_reaches_the_server(server: LocalServer) -> None:
    policy = DestinationPolicy.parse(False, ["localhost"])
    assert await _get(GuardedResolver(policy), f"http://localhost:{server.port}/") == 200
    assert len(server.hosts) == 1


async def test_allow_private_reaches_the_server(server: LocalServer) -> None:
    policy = DestinationPolicy(allow_private=True)
    assert await _get(GuardedResolver(policy), f"http://localhost:{server.port}/") == 200
    assert len(server.hosts) == 1


async def test_public_looking_name_resolving_to_loopback_is_refused(server: LocalServer) -> None:
    inner = StaticResolver({"hooks.example.test": ["127.0.0.1"]})
    resolver = GuardedResolver(DestinationPolicy(), inner=inner)
    with pytest.raises(aiohttp.ClientConnectorDNSError) as caught:
        await _get(resolver, f"http://hooks.example.test:{server.port}/")
    refusal = refused_by_guard(caught.value)
    assert refusal is not None
    assert (refusal.host, refusal.address) == ("hooks.example.test", "127.0.0.1")
    assert inner.calls == ["hooks.example.test"]
    assert server.hosts == []


async def test_allowlisted_name_connects_to_the_address_it_resolved_to(
    server: LocalServer,
) -> None:
    inner = StaticResolver({"hooks.example.test": ["127.0.0.1"]})
    policy = DestinationPolicy.parse(False, ["*.example.test"])
    status = await _get(
        GuardedResolver(policy, inner=inner), f"http://hooks.example.test:{server.port}/"
    )
    assert status == 200
    assert server.hosts == [f"hooks.example.test:{server.port}"]


async def test_one_refused_address_among_public_ones_refuses_the_name(server: LocalServer) -> None:
    inner = StaticResolver({"mixed.example.test": ["93.184.216.34", "127.0.0.1"]})
    resolver = GuardedResolver(DestinationPolicy(), inner=inner)
    with pytest.raises(aiohttp.ClientConnectorDNSError) as caught:
        await _get(resolver, f"http://mixed.example.test:{server.port}/")
    refusal = refused_by_guard(caught.value)
    assert refusal is not None
    assert refusal.address == "127.0.0.1"
    assert server.hosts == []


async def test_ip_literal_hosts_bypass_the_resolver(server: LocalServer) -> None:
    """aiohttp never resolves an IP literal, so the dispatcher must call check_host itself."""
    inner = StaticResolver({})
    policy = DestinationPolicy()
    status = await _get(GuardedResolver(policy, inner=inner), f"http://127.0.0.1:{server.port}/")
    assert status == 200
    assert inner.calls == []
    with pytest.raises(DestinationRefused):
        policy.check_host("127.0.0.1")


async def test_guarded_resolver_returns_the_inner_answers_when_public() -> None:
    inner = StaticResolver({"example.test": ["93.184.216.34", "2606:2800:220:1::1"]})
    resolver = GuardedResolver(DestinationPolicy(), inner=inner)
    results = await resolver.resolve("example.test", 443, socket.AF_UNSPEC)
    assert [result["host"] for result in results] == ["93.184.216.34", "2606:2800:220:1::1"]
    assert all(result["port"] == 443 for result in results)


async def test_guarded_resolver_raises_resolution_refused_with_its_cause() -> None:
    inner = StaticResolver({"db.example.test": ["10.0.0.9"]})
    resolver = GuardedResolver(DestinationPolicy(), inner=inner)
    with pytest.raises(ResolutionRefused) as caught:
        await resolver.resolve("db.example.test", 80)
    assert isinstance(caught.value, OSError)
    assert caught.value.refusal is caught.value.__cause__
    assert caught.value.refusal.reason == "private"


async def test_guarded_resolver_closes_its_inner_resolver() -> None:
    inner = StaticResolver({})
    await GuardedResolver(DestinationPolicy(), inner=inner).close()
    assert inner.closed


def _raise_hiding(refusal: DestinationRefused) -> None:
    try:
        raise refusal
    except DestinationRefused:
        raise RuntimeError("while handling") from None


def test_refused_by_guard_walks_cause_and_context() -> None:
    refusal = DestinationRefused("no", host="h", address=None, reason="loopback")
    with pytest.raises(RuntimeError) as caught:
        _raise_hiding(refusal)
    assert caught.value.__cause__ is None
    assert refused_by_guard(caught.value) is refusal  # __context__ is walked even when suppressed
    wrapped = OSError("wrapped")
    wrapped.__cause__ = refusal
    assert refused_by_guard(wrapped) is refusal
    assert refused_by_guard(refusal) is refusal


def test_refused_by_guard_returns_none_for_unrelated_errors_and_cycles() -> None:
    first = ValueError("first")
    second = OSError("second")
    first.__context__ = second
    second.__context__ = first
    assert refused_by_guard(first) is None
    assert refused_by_guard(TimeoutError()) is None
