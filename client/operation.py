"""How one endpoint definition serves both clients.

An endpoint is a plain function that returns a ``Call`` (see ``call.py``). A namespace class
lists its endpoints as ``get = Operation(get_message)``; reading ``namespace.get`` gives a
function with the endpoint's own signature that sends the call through the namespace's transport.
On a ``Namespace[Sync]`` it returns the result; on a ``Namespace[Async]`` it returns a coroutine.
``Pages(list_events)`` does the same for paged lists, giving an iterator (or async iterator) over
every item of every page. Type checkers see the precise signature and result of each.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Generic, ParamSpec, Self, TypeVar, overload

from .call import Call, Page

P = ParamSpec("P")
T = TypeVar("T")


class Mode:
    """Marks a transport (and the namespaces over it) as blocking or async."""


class Sync(Mode):
    pass


class Async(Mode):
    pass


M = TypeVar("M", bound=Mode)


class Transport(Generic[M]):
    """Sends calls. ``run`` returns the result (sync) or a coroutine of it (async); ``pages``
    returns an iterator (sync) or an async iterator (async) over all items."""

    def run(self, call: Call[Any]) -> Any:
        raise NotImplementedError

    def pages(self, page: Callable[[str | None], Call[Page[Any]]]) -> Any:
        """Items of ``page(None)``, then of ``page(cursor)`` for each next cursor."""
        raise NotImplementedError


class Namespace(Generic[M]):
    """A group of endpoints sharing one transport."""

    def __init__(self, transport: Transport[M]) -> None:
        self._transport = transport


class Operation(Generic[P, T]):
    def __init__(self, build: Callable[P, Call[T]]) -> None:
        self._build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, namespace: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, namespace: Namespace[Sync], owner: type[Any]) -> Callable[P, T]: ...
    @overload
    def __get__(
        self, namespace: Namespace[Async], owner: type[Any]
    ) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, namespace: Namespace[Any] | None, owner: type[Any]) -> Any:
        if namespace is None:
            return self
        build, run = self._build, namespace._transport.run

        @functools.wraps(build)
        def send(*args: P.args, **kwargs: P.kwargs) -> Any:
            return run(build(*args, **kwargs))

        return send


class Pages(Generic[P, T]):
    """Every item of a paged list: ``build(..., cursor=...)`` is called again with each page's
    cursor until the last page."""

    def __init__(self, build: Callable[P, Call[Page[T]]]) -> None:
        self._build = build
        self.__doc__ = build.__doc__

    @overload
    def __get__(self, namespace: None, owner: type[Any]) -> Self: ...
    @overload
    def __get__(self, namespace: Namespace[Sync], owner: type[Any]) -> Callable[P, Iterator[T]]: ...
    @overload
    def __get__(
        self, namespace: Namespace[Async], owner: type[Any]
    ) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, namespace: Namespace[Any] | None, owner: type[Any]) -> Any:
        if namespace is None:
            return self
        build: Callable[..., Call[Page[T]]] = self._build
        pages = namespace._transport.pages

        @functools.wraps(build)
        def iterate(*args: P.args, **kwargs: P.kwargs) -> Any:
            start = kwargs.pop("cursor", None)
            build(*args, cursor=start, **kwargs)  # bad arguments fail here, not at first next()
            return pages(lambda cursor: build(*args, cursor=cursor or start, **kwargs))

        return iterate
