"""Verify Wirepost (and Upstash QStash) signed deliveries: `Verifier(...).verify(...)`.

Receivers install this package alone; it needs PyJWT and the standard library. Framework
adapters live in submodules that import their framework only when used:
`wirepost_verify.aiohttp`, `wirepost_verify.asgi` (Starlette, FastAPI), `wirepost_verify.wsgi`
(Flask, Django).
"""

from __future__ import annotations

from .protocol import (
    ALGORITHM,
    CLAIM_AUDIENCE,
    CLAIM_BODY_HASH,
    CLAIM_EXPIRES_AT,
    CLAIM_ISSUED_AT,
    CLAIM_ISSUER,
    CLAIM_NOT_BEFORE,
    CLAIM_SUBJECT,
    CLAIM_TOKEN_ID,
    ISSUER,
    REQUIRED_CLAIMS,
    SIGNATURE_HEADER,
    TOKEN_ID_PREFIX,
    TOKEN_LIFETIME_SECONDS,
    TOKEN_TYPE,
    body_hash,
)
from .verify import SignatureError, Verifier

__all__ = [
    "ALGORITHM",
    "CLAIM_AUDIENCE",
    "CLAIM_BODY_HASH",
    "CLAIM_EXPIRES_AT",
    "CLAIM_ISSUED_AT",
    "CLAIM_ISSUER",
    "CLAIM_NOT_BEFORE",
    "CLAIM_SUBJECT",
    "CLAIM_TOKEN_ID",
    "ISSUER",
    "REQUIRED_CLAIMS",
    "SIGNATURE_HEADER",
    "TOKEN_ID_PREFIX",
    "TOKEN_LIFETIME_SECONDS",
    "TOKEN_TYPE",
    "SignatureError",
    "Verifier",
    "body_hash",
]
