"""Fixtures for the client tests: the real app (``build_app``) on a real 127.0.0.1 port over a
real Postgres, and ``wp``, a client run both ways — ``AsyncClient`` awaited on the test's loop,
and the blocking ``Client`` in a worker thread (``asyncio.to_thread``) so that the server, on the
test's loop, can answer it. Tests use ``wp`` the same way for both: ``await wp.messages.get(id)``;
``iterate`` calls come back as lists.

The API tests' session database is reused (emptied before each test).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from tests.api.conftest import MakeApi, api_database, db_dsn, make_api, messages_locked
from tests.conftest import TEST_TOKEN
from wirepost_client import AsyncClient, Client, WirepostError
from wirepost_client.operation import Namespace

__all__ = [
    "api_database",
    "db_dsn",
    "make_api",
    "messages_locked",
]  # fixtures shared with tests/api

FAST_RETRY = {"retries": 3, "initial_delay": 0.01, "max_delay": 0.05}


@pytest.fixture
async def server(make_api: MakeApi) -> str:
    """The base URL of a Wirepost without delivery or scheduler loops."""
    api = await make_api(run_scheduler=False)
    return str(api.make_url("")).rstrip("/")


def _materialise(function: Callable[..., Any], args: Any, kwargs: Any) -> Any:
    result = function(*args, **kwargs)
    return list(result) if isinstance(result, Iterator) else result


class Both:
    """One awaitable face for ``Client`` (run in a thread) and ``AsyncClient``."""

    def __init__(self, target: Any, threaded: bool) -> None:
        self._target = target
        self._threaded = threaded

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if isinstance(value, Namespace):
            return Both(value, self._threaded)
        if callable(value):
            return lambda *args, **kwargs: self._call(value, args, kwargs)
        return value

    async def _call(self, function: Callable[..., Any], args: Any, kwargs: Any) -> Any:
        if self._threaded:
            return await asyncio.to_thread(_materialise, function, args, kwargs)
        result = function(*args, **kwargs)
        if hasattr(result, "__aiter__"):
            return [item async for item in result]
        return await result


@contextlib.asynccontextmanager
async def client_for(mode: str, base_url: str, **options: Any) -> AsyncIterator[Both]:
    """A ``Both`` over a client of ``mode`` ("async" or "sync"), closed afterwards."""
    options.setdefault("token", TEST_TOKEN)
    if mode == "async":
        async with AsyncClient(base_url, **options) as client:
            yield Both(client, threaded=False)
    else:
        with Client(base_url, **options) as blocking:
            yield Both(blocking, threaded=True)


@pytest.fixture(params=["async", "sync"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def wp(mode: str, server: str) -> AsyncIterator[Both]:
    async with client_for(mode, server) as client:
        yield client


@contextlib.contextmanager
def unless_endpoint_missing(what: str) -> Iterator[None]:
    """Skip (not fail) while the server does not serve ``what`` yet: its route answers 404
    "no such endpoint". Any other error fails the test."""
    try:
        yield
    except WirepostError as exc:
        if exc.status == 404 and exc.message.startswith("no such endpoint"):
            pytest.skip(f"the server has no {what} endpoint yet: {exc.message}")
        raise
