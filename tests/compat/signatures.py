"""Checks a recorded delivery with the official Python SDK's ``Receiver``, the strictest of the
QStash verifiers (QSTASH_API.md §8.2)."""

from __future__ import annotations

from qstash import Receiver
from qstash.signing_key import SigningKey

from tests.receiver import Received


def verify_delivery(got: Received, keys: SigningKey, url: str) -> None:
    """Raises ``qstash.errors.SignatureError`` unless ``got`` is signed for exactly ``url``."""
    Receiver(keys.current, keys.next).verify(
        signature=got.headers["Upstash-Signature"], body=got.body.decode(), url=url
    )
