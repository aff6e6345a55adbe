"""A DNS resolver for aiohttp that refuses names resolving to non-public addresses (SSRF guard).

Owns applying :class:`~wirepost.destination.DestinationPolicy` to DNS answers. It
checks the addresses aiohttp will actually connect to, so a public-looking name that resolves
to 127.0.0.1 or 169.254.169.254 (including DNS rebinding between a check and the connect) is
refused. It does not decide policy (``destination``) or classify delivery outcomes
(``dispatch``).

Use it for every outgoing delivery::

    connector = aiohttp.TCPConnector(resolver=GuardedResolver(policy))
    session = aiohttp.ClientSession(connector=connector)  # trust_env=False, the default

What the caller of ``session.request()`` sees when the guard refuses (measured with aiohttp
3.14 against a local server reached as ``localhost``): :meth:`GuardedResolver.resolve` raises
:class:`ResolutionRefused`, an ``OSError`` whose ``__cause__`` is the original
:class:`~wirepost.destination.DestinationRefused`. aiohttp's ``TCPConnector`` wraps
any ``OSError`` from a resolver in ``aiohttp.ClientConnectorDNSError`` (a
``ClientConnectorError``, ``ClientError`` and ``OSError``) raised ``from`` it, so the chain is::

    ClientConnectorDNSError  --__cause__-->  ResolutionRefused  --__cause__-->  DestinationRefused

That is the same exception type as an ordinary DNS failure (where the cause is a
``socket.gaierror``), so existing ``except aiohttp.ClientError`` handling treats a refusal as a
failed connection; to tell the two apart call :func:`refused_by_guard`, which walks the chain
and returns the ``DestinationRefused`` (with ``.host``, ``.address``, ``.reason`` and a message
saying how to allow it) or None. (Had the resolver raised the ``ValueError`` itself, aiohttp
would let it escape unwrapped, past ``ClientError`` handlers.)

Not covered here: aiohttp never calls a resolver for an IP-literal host (``http://10.0.0.1/``,
``http://[::1]/``), so the dispatcher must call ``policy.check_host(url.host)`` before each
request; that also refuses ``localhost`` names early. Requests through a proxy resolve the
proxy, not the destination, so delivery sessions must not use one.
"""

from __future__ import annotations

import errno
import socket

from aiohttp import DefaultResolver
from aiohttp.abc import AbstractResolver, ResolveResult

from wirepost.destination import DestinationPolicy, DestinationRefused


class ResolutionRefused(OSError):
    """Raised by :class:`GuardedResolver` when an answer is refused; ``__cause__`` says why."""

    def __init__(self, refusal: DestinationRefused) -> None:
        super().__init__(errno.EACCES, str(refusal))
        self.refusal = refusal


class GuardedResolver(AbstractResolver):
    """Resolve with ``inner`` (aiohttp's default resolver), then check every address."""

    def __init__(self, policy: DestinationPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner if inner is not None else DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The inner resolver's answers, or ResolutionRefused if any of them is refused."""
        results = await self._inner.resolve(host, port, family)
        for result in results:
            try:
                self._policy.check_address(host, result["host"])
            except DestinationRefused as refusal:
                raise ResolutionRefused(refusal) from refusal
        return results

    async def close(self) -> None:
        await self._inner.close()


def refused_by_guard(exc: BaseException) -> DestinationRefused | None:
    """The DestinationRefused behind ``exc``, or None.

    Follows ``__cause__``, else ``__context__`` (even when suppressed with ``from None``).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DestinationRefused):
            return current
        seen.add(id(current))
        current = current.__cause__ if current.__cause__ is not None else current.__context__
    return None
