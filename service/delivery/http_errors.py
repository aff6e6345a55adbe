"""The delivery client's error tree (``wirepost.delivery.http``): what a request can end in
instead of a response.

    DeliveryError                      no usable response
     ├── RequestError (ValueError)     cannot be sent as given: CR/LF in a header, not http(s)
     ├── ConnectError                  DNS failure, connection refused or unreachable
     │    └── TLSError                 certificate not trusted, wrong name, handshake failed
     ├── DeliveryTimeout (TimeoutError) the connect timeout or the total timeout passed
     └── ProtocolError                 malformed response, connection closed or reset early
          └── NoResponse               closed before any response byte

A module of its own, left uncompiled in the compiled build (setup.py): exceptions with two
bases (``RequestError``, ``DeliveryTimeout``) cannot be mypyc's native classes.
"""

from __future__ import annotations


class DeliveryError(Exception):
    """The request got no usable response."""


class RequestError(DeliveryError, ValueError):
    """The request cannot be sent as given; sending it again will not help."""


class ConnectError(DeliveryError):
    """No connection: the name did not resolve, or the connection was refused or failed."""


class TLSError(ConnectError):
    """The TLS handshake failed (untrusted certificate, wrong host name, ...)."""


class DeliveryTimeout(DeliveryError, TimeoutError):
    """The connect timeout or the total timeout of the attempt passed."""


class ProtocolError(DeliveryError):
    """The response was malformed, or the connection closed or reset before it was complete."""


class NoResponse(ProtocolError):
    """Closed before any response byte arrived: safe to resend once if the connection was reused."""
