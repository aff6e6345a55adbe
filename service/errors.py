"""The one error tree of the service, and nothing else.

Every error a request can cause is a ``ServiceError``; ``api.middleware.error_middleware`` is the
only place that turns one into HTTP (``{"error": "<detail>"}`` with ``status``)::

    ServiceError (500)
    ├── InvalidRequest (400)   bad header, body, name or number; says how to fix it
    ├── Unauthorized (401)     missing or wrong token
    ├── NotFound (404)         message, DLQ entry, group, queue, schedule, flow-control key
    ├── RequestTimeout (408)   the body did not arrive within WIREPOST_BODY_TIMEOUT
    ├── Conflict (409)         the operation contradicts the current state
    ├── PayloadTooLarge (413)  body above WIREPOST_MAX_BODY_SIZE
    ├── LimitExceeded (412)    a configured count limit (queues, schedules, parallelism)
    └── Unavailable (503)      the database cannot be reached right now
        └── Overloaded (503)   too many publishes are waiting for their commit; retry later

The class docstring is the default detail (procrastinate's trick).
"""

from __future__ import annotations


class ServiceError(Exception):
    """Internal error."""

    status = 500
    retry_after: int | None = None  # seconds, sent as a ``Retry-After`` header when set
    closes_connection = False  # the request was not read to its end: answer, then hang up

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or (self.__doc__ or "").strip()
        super().__init__(self.detail)


class InvalidRequest(ServiceError):
    """The request is not valid."""

    status = 400


class Unauthorized(ServiceError):
    """Missing or invalid token: send `Authorization: Bearer <one of WIREPOST_TOKEN>`."""

    status = 401


class NotFound(ServiceError):
    """Not found."""

    status = 404


class RequestTimeout(ServiceError):
    """The request body did not arrive in time."""

    status = 408
    closes_connection = True


class Conflict(ServiceError):
    """The request conflicts with the current state."""

    status = 409


class LimitExceeded(ServiceError):
    """A configured limit was reached."""

    status = 412


class PayloadTooLarge(ServiceError):
    """The request body is too large."""

    status = 413


class Unavailable(ServiceError):
    """The database is unavailable; retry shortly."""

    status = 503


class Overloaded(Unavailable):
    """Too many publishes are waiting for the database to commit them; retry in a second."""

    retry_after = 1
