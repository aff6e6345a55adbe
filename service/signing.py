"""Signs deliveries: one HS256 JWT per attempt, in QStash's `Upstash-Signature` format.

The contract (header name, issuer, lifetime, claim names, body hash) lives in
`wirepost_verify.protocol` and is imported from there, so the signer and the receivers' verifier
cannot drift apart. The token is assembled by hand because it is on the delivery hot path: the
JOSE header is encoded once, the key's HMAC pads are hashed once per `Signer` and copied per
token, and the claims are serialised with orjson. The result is a standard JWT that PyJWT, jose
and golang-jwt accept. Pure: no I/O, the caller passes the time.
"""

from __future__ import annotations

import binascii
import secrets
from typing import Final

import orjson

from wirepost.entropy import random_bytes
from wirepost_verify.protocol import (
    ALGORITHM,
    CLAIM_BODY_HASH,
    CLAIM_EXPIRES_AT,
    CLAIM_ISSUED_AT,
    CLAIM_ISSUER,
    CLAIM_NOT_BEFORE,
    CLAIM_SUBJECT,
    CLAIM_TOKEN_ID,
    ISSUER,
    TOKEN_ID_PREFIX,
    TOKEN_LIFETIME_SECONDS,
    TOKEN_TYPE,
    HmacSha256,
    body_hash,
)

DEV_CURRENT_SIGNING_KEY: Final = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
DEV_NEXT_SIGNING_KEY: Final = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"
"""QStash's public development key pair (QSTASH_API.md §14). Never use them in production."""

SIGNING_KEY_PREFIX: Final = "sig_"
SIGNING_KEY_RANDOM_CHARS: Final = 28
BASE58_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"

_TOKEN_ID_RANDOM_BYTES: Final = 12
_TO_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")


def _b64url(data: bytes) -> bytes:
    """base64url without "=" padding, as JWT segments require (RFC 7515 §2)."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


_JOSE_HEADER: Final = _b64url(orjson.dumps({"alg": ALGORITHM, "typ": TOKEN_TYPE}))


def generate_signing_key() -> str:
    """Return a new random signing key: "sig_" + 28 base58 characters (32 bytes in all)."""
    random_part = "".join(secrets.choice(BASE58_ALPHABET) for _ in range(SIGNING_KEY_RANDOM_CHARS))
    return SIGNING_KEY_PREFIX + random_part


class Signer:
    """Mints `Upstash-Signature` tokens with one signing key.

    >>> signer = Signer(DEV_CURRENT_SIGNING_KEY)
    >>> token = signer.sign(url="https://example.com/hook", body=b"{}", now=1_700_000_000)
    >>> token.count(".")
    2
    """

    __slots__ = ("_hmac",)

    def __init__(self, signing_key: str) -> None:
        if not signing_key:
            raise ValueError("signing key is empty: set it to a key like `wirepost keygen` prints")
        self._hmac = HmacSha256(signing_key.encode("utf-8"))

    def __repr__(self) -> str:
        return "Signer(<key redacted>)"

    def sign(self, *, url: str, body: bytes, now: int) -> str:
        """Return a JWT for one delivery attempt of `body` to `url`, issued at `now` (Unix s).

        `now` is truncated to whole seconds; pass the current time, never a future one, because
        strict receivers (PyJWT, the official Python SDK) reject an `iat` in the future.
        """
        issued_at = int(now)
        claims = orjson.dumps(
            {
                CLAIM_ISSUER: ISSUER,
                CLAIM_SUBJECT: url,
                CLAIM_EXPIRES_AT: issued_at + TOKEN_LIFETIME_SECONDS,
                CLAIM_NOT_BEFORE: issued_at,
                CLAIM_ISSUED_AT: issued_at,
                CLAIM_TOKEN_ID: TOKEN_ID_PREFIX + random_bytes(_TOKEN_ID_RANDOM_BYTES).hex(),
                CLAIM_BODY_HASH: body_hash(body),
            }
        )
        signing_input = _JOSE_HEADER + b"." + _b64url(claims)
        return (signing_input + b"." + _b64url(self._hmac.digest(signing_input))).decode("ascii")
