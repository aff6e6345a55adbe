"""Which build of Wirepost this is: pure Python, or with the delivery path compiled by mypyc.

``COMPILED_MODULES`` is the list setup.py compiles when ``WIREPOST_COMPILE=1`` (it reads this
file without importing the package). Each is, per delivered message: the loop (claim, hand to
the dispatcher, record), the store code that claims, decodes and completes deliveries, the
signer, the dispatcher (headers, outcome) and the HTTP client (write, parse, pool).
"""

from __future__ import annotations

import importlib.util
from typing import Final

COMPILED_MODULES: Final = (
    "wirepost.delivery.dispatch",
    "wirepost.delivery.http",
    "wirepost.delivery.http_protocol",
    "wirepost.delivery.loop",
    "wirepost.signing",
    "wirepost.store.deliveries",
    "wirepost.store.messages",
)


def compiled_modules() -> list[str]:
    """Those of ``COMPILED_MODULES`` that load from a C extension, not from source. Found by
    where each would load from, without importing it: ``wirepost --version`` and the start-up
    of every command (``healthcheck`` runs every few seconds in the image) stay light."""
    return [name for name in COMPILED_MODULES if _loads_from_extension(name)]


def _loads_from_extension(name: str) -> bool:
    spec = importlib.util.find_spec(name)
    origin = spec.origin if spec is not None else None
    return origin is not None and not origin.endswith(".py")


def describe() -> str:
    """A few words for ``wirepost --version``, the start-up log line and benchmark reports."""
    compiled = compiled_modules()
    if not compiled:
        return "pure Python"
    if len(compiled) == len(COMPILED_MODULES):
        return "delivery path compiled with mypyc"
    return f"partly compiled with mypyc ({', '.join(compiled)})"
