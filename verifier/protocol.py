"""The signing contract shared by the Wirepost server and its receivers.

Wirepost signs every delivery attempt with a JWT in the `Upstash-Signature` header, exactly as
Upstash QStash does, so receivers written for QStash verify Wirepost deliveries unchanged. This
module is the one place that names the header, the issuer, the algorithm, the claims and the body
hash. The server's signer (`wirepost.signing`) and this package's `Verifier` both import it, so the
two sides cannot drift apart. No I/O here and no third-party imports.

Token (DESIGN decision 9, QSTASH_API.md §8):
    JOSE header  {"alg": "HS256", "typ": "JWT"}
    HMAC key     the UTF-8 bytes of the signing-key string (no base64 decoding)
    claims       iss  "Upstash"
                 sub  the exact URL the request is sent to
                 exp  iat + 300
                 nbf  iat (hosted QStash sends 0; receivers accept both)
                 iat  whole seconds, never ahead of the signer's clock
                 jti  "jwt_" + random characters, a string
                 body base64url(SHA-256(raw body)) with "=" padding
    no "aud" claim.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Final

SIGNATURE_HEADER: Final = "Upstash-Signature"
ISSUER: Final = "Upstash"
ALGORITHM: Final = "HS256"
TOKEN_TYPE: Final = "JWT"  # noqa: S105 - a JOSE "typ" value, not a secret
TOKEN_LIFETIME_SECONDS: Final = 300
TOKEN_ID_PREFIX: Final = "jwt_"  # noqa: S105 - the jti prefix, not a secret

CLAIM_ISSUER: Final = "iss"
CLAIM_SUBJECT: Final = "sub"
CLAIM_EXPIRES_AT: Final = "exp"
CLAIM_NOT_BEFORE: Final = "nbf"
CLAIM_ISSUED_AT: Final = "iat"
CLAIM_TOKEN_ID: Final = "jti"  # noqa: S105 - a claim name, not a secret
CLAIM_BODY_HASH: Final = "body"
CLAIM_AUDIENCE: Final = "aud"

REQUIRED_CLAIMS: Final = (
    CLAIM_ISSUER,
    CLAIM_SUBJECT,
    CLAIM_EXPIRES_AT,
    CLAIM_NOT_BEFORE,
    CLAIM_BODY_HASH,
)
"""Claims a receiver insists on. `iat` and `jti` are checked only when present, as QStash does."""


def body_hash(body: bytes) -> str:
    """Return base64url(SHA-256(body)) with "=" padding, the value of the `body` claim.

    >>> body_hash(b"")
    '47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU='
    """
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode("ascii")


_BLOCK_SIZE: Final = 64  # SHA-256's block size in bytes
_INNER_PAD: Final = bytes(byte ^ 0x36 for byte in range(256))
_OUTER_PAD: Final = bytes(byte ^ 0x5C for byte in range(256))


class HmacSha256:
    """HMAC-SHA256 (RFC 2104) for one key, with the key's inner and outer pads hashed once.

    Each MAC then copies two SHA-256 states, which costs about 40 % less than copying an
    `hmac.HMAC` object; signing and verifying do it once per delivery. Same result as
    `hmac.new(key, message, hashlib.sha256).digest()`.

    >>> HmacSha256(b"key").digest(b"message").hex()[:16]
    '6e9ef29b75fffc5b'
    """

    __slots__ = ("_inner", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK_SIZE:
            key = hashlib.sha256(key).digest()
        padded = key.ljust(_BLOCK_SIZE, b"\0")
        self._inner = hashlib.sha256(padded.translate(_INNER_PAD))
        self._outer = hashlib.sha256(padded.translate(_OUTER_PAD))

    def __repr__(self) -> str:
        return "HmacSha256(<key redacted>)"

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()
