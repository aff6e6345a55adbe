"""``Client`` (blocking) and ``AsyncClient``: the same API over one set of endpoint definitions.

Both are an ``Api``, whose attributes are ``Operation``s and namespaces; they differ only in the
transport ``_connect`` makes (``SyncTransport`` or ``AsyncTransport``) and in how they close.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Self

from . import publishing
from .dlq import Dlq
from .events import Events
from .flow_control import FlowControls
from .keys import Keys
from .messages import Messages
from .operation import Async, M, Namespace, Operation, Sync, Transport
from .queues import Queues
from .schedules import Schedules
from .settings import DEFAULT_TIMEOUT, ClientSettings, RetryPolicy, resolve_settings
from .transport import AsyncTransport, SyncTransport
from .url_groups import UrlGroups


class Api(Namespace[M]):
    """Every endpoint: publishing at the top, resources in namespaces.

    ``base_url`` and ``token`` default to ``WIREPOST_URL`` / ``WIREPOST_TOKEN`` (then
    ``QSTASH_URL`` / ``QSTASH_TOKEN``; the URL then to ``http://127.0.0.1:8080``). ``retry`` is
    a ``RetryPolicy`` (default: five retries of transport errors), or False for none.
    ``timeout`` is seconds per request. ``environ`` replaces ``os.environ`` (for tests).
    """

    publish = Operation(publishing.publish)
    publish_json = Operation(publishing.publish_json)
    enqueue = Operation(publishing.enqueue)
    enqueue_json = Operation(publishing.enqueue_json)
    batch = Operation(publishing.batch)
    batch_json = Operation(publishing.batch_json)

    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        *,
        retry: RetryPolicy | bool | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = resolve_settings(
            base_url,
            token,
            retry=retry,
            timeout=timeout,
            environ=os.environ if environ is None else environ,
        )
        transport = self._connect(self.settings)
        super().__init__(transport)
        self.messages = Messages(transport)
        self.dlq = Dlq(transport)
        self.events = Events(transport)
        self.schedules = Schedules(transport)
        self.url_groups = UrlGroups(transport)
        self.queues = Queues(transport)
        self.keys = Keys(transport)
        self.flow_control = FlowControls(transport)

    def _connect(self, settings: ClientSettings) -> Transport[M]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.settings.base_url!r})"


class Client(Api[Sync]):
    """The blocking client. Use it as a context manager, or call ``close()``."""

    def _connect(self, settings: ClientSettings) -> SyncTransport:
        self._sync = SyncTransport(settings)
        return self._sync

    def close(self) -> None:
        self._sync.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClient(Api[Async]):
    """The async client: the same API as ``Client``, with every call awaited and ``iterate``
    used with ``async for``. Use it as an async context manager, or ``await aclose()``."""

    def _connect(self, settings: ClientSettings) -> AsyncTransport:
        self._async = AsyncTransport(settings)
        return self._async

    async def aclose(self) -> None:
        await self._async.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
