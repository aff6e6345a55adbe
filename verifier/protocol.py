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
