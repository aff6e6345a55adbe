"""``client.keys``: the signing keys receivers verify deliveries with."""

from __future__ import annotations

from dataclasses import dataclass

from .call import Call
from .fields import FromJson, wire
from .operation import M, Namespace, Operation


@dataclass(frozen=True)
class SigningKeys(FromJson):
    """Deliveries are signed with ``current``; receivers also accept ``next``."""

    current: str = wire("current")
    next: str = wire("next")


def get_keys() -> Call[SigningKeys]:
    """The current and next signing keys."""
    return Call("GET", "/v2/keys", SigningKeys.from_json)


def rotate_keys() -> Call[SigningKeys]:
    """Make ``next`` the current key and generate a new ``next``; returns the new pair. Not
    repeated after a lost connection: rotating twice would leave receivers behind."""
    return Call("POST", "/v2/keys/rotate", SigningKeys.from_json, replayable=False)


class Keys(Namespace[M]):
    get = Operation(get_keys)
    rotate = Operation(rotate_keys)
