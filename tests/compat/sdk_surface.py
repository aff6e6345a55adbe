"""The official Python SDK's two clients behind one awaitable surface, so every test runs the
same calls through ``QStash`` (in a worker thread) and ``AsyncQStash`` (on the loop):
``await sdk.message.publish(url=...)``.

``public_calls(client)`` lists the SDK's public surface (``"message.publish"``, ...), read from
the installed package, so the suite can check that it calls every one of them.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from qstash import AsyncQStash, QStash

from tests.e2e.wirepost_process import TOKEN


def namespaces(client: QStash | AsyncQStash) -> dict[str, Any]:
    """The client's API namespaces (``message``, ``dlq``, ...): every attribute but ``http``."""
    return {name: api for name, api in vars(client).items() if name != "http"}


def public_calls(client: QStash | AsyncQStash) -> set[str]:
    found = set()
    for name, api in namespaces(client).items():
        for attr, _function in inspect.getmembers(type(api), inspect.isfunction):
            if not attr.startswith("_"):
                found.add(f"{name}.{attr}")
    return found


class _Namespace:
    def __init__(self, api: Any, is_async: bool) -> None:
        self._api = api
        self._is_async = is_async

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._api, name)
        if self._is_async:
            assert inspect.iscoroutinefunction(method), f"AsyncQStash {name} is not async"
            return method  # type: ignore[no-any-return]
        assert not inspect.iscoroutinefunction(method), f"QStash {name} is async"

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await asyncio.to_thread(method, *args, **kwargs)

        return call


class AwaitableSdk:
    """``await sdk.<namespace>.<method>(...)`` on either client; ``flavour`` says which."""

    def __init__(self, client: QStash | AsyncQStash) -> None:
        self.client = client
        self.flavour = "async" if isinstance(client, AsyncQStash) else "sync"
        self._namespaces = namespaces(client)

    def __getattr__(self, name: str) -> _Namespace:
        if name.startswith("_") or name not in self._namespaces:
            raise AttributeError(name)
        return _Namespace(self._namespaces[name], self.flavour == "async")

    async def close(self) -> None:
        if isinstance(self.client, AsyncQStash):
            await self.client.http._client.aclose()
        else:
            self.client.http._client.close()


@asynccontextmanager
async def open_sdk(
    base_url: str, *, flavour: str, token: str = TOKEN
) -> AsyncIterator[AwaitableSdk]:
    """A fresh client of the given flavour (``sync``/``async``) without SDK-side retries, so
    that a failure shows at once; its connections are closed on exit."""
    client: QStash | AsyncQStash
    if flavour == "sync":
        client = QStash(token, base_url=base_url, retry=False)
    else:
        client = AsyncQStash(token, base_url=base_url, retry=False)
    sdk = AwaitableSdk(client)
    try:
        yield sdk
    finally:
        await sdk.close()
