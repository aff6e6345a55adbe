"""Checks an `Upstash-Signature` token against the raw request body and, optionally, the URL.

`Verifier` accepts exactly what the official QStash receivers accept (qstash-py 3.4.0's
`Receiver` is the reference): HS256 only; `iss`, `sub`, `exp`, `nbf` and `body` present; not
expired; `nbf` and `iat` not in the future (beyond `clock_tolerance`); `jti` and `sub` strings if
present; no non-empty `aud`; body hash equal with "=" padding ignored; `sub` equal to the URL when
one is given. It tries the current key, then the next one, so deliveries signed before and after
a key rotation both pass. Every failure is one `SignatureError`, never a `KeyError`.

Depends on PyJWT and the standard library only; does no I/O beyond reading the environment in
the constructor.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import jwt

from .protocol import (
    ALGORITHM,
    CLAIM_BODY_HASH,
    CLAIM_SUBJECT,
    ISSUER,
    REQUIRED_CLAIMS,
    SIGNATURE_HEADER,
    body_hash,
)

if TYPE_CHECKING:
    from jwt.types import Options

CURRENT_KEY_ENV_VARS: Final = ("QSTASH_CURRENT_SIGNING_KEY", "WIREPOST_CURRENT_SIGNING_KEY")
NEXT_KEY_ENV_VARS: Final = ("QSTASH_NEXT_SIGNING_KEY", "WIREPOST_NEXT_SIGNING_KEY")

_DECODE_OPTIONS: Final[Options] = {"require": list(REQUIRED_CLAIMS)}


class SignatureError(Exception):
    """The request is not a genuine delivery; `reason` says why, for a 401 body or a log line."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _key_from(explicit: str | None, env_vars: tuple[str, ...], environ: Mapping[str, str]) -> str:
    if explicit:
        return explicit
    for name in env_vars:
        value = environ.get(name, "").strip()
        if value:
            return value
    raise ValueError(
        f"no signing key: pass it to Verifier() or set {' or '.join(env_vars)} "
        "(copy the value from GET /v2/keys on your Wirepost or QStash server)"
    )


def _reason(error: jwt.PyJWTError) -> str:
    """Translate a PyJWT error into a reason a person sending the request can act on."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return "token has expired (exp is in the past): sign a fresh token per attempt"
    if isinstance(error, jwt.ImmatureSignatureError):
        return f"token is not valid yet: {error}; check that both clocks are synchronised"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"token has no {error.claim!r} claim"
    if isinstance(error, jwt.InvalidIssuerError):
        return f"token issuer is not {ISSUER!r}"
    if isinstance(error, jwt.InvalidAudienceError):
        return "token has an 'aud' claim, which Upstash-style tokens never carry"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return f"token is not signed with {ALGORITHM}"
    return f"malformed token: {error}"


class Verifier:
    """Verifies deliveries signed by Wirepost or Upstash QStash.

    Keys default to the environment: QSTASH_CURRENT_SIGNING_KEY / QSTASH_NEXT_SIGNING_KEY, else
    WIREPOST_CURRENT_SIGNING_KEY / WIREPOST_NEXT_SIGNING_KEY. Both keys are required.
    """

    __slots__ = ("_keys",)

    def __init__(
        self, current_signing_key: str | None = None, next_signing_key: str | None = None
    ) -> None:
        self._keys = (
            _key_from(current_signing_key, CURRENT_KEY_ENV_VARS, os.environ),
            _key_from(next_signing_key, NEXT_KEY_ENV_VARS, os.environ),
        )

    def __repr__(self) -> str:
        return "Verifier(<keys redacted>)"

    def verify(
        self,
        signature: str,
        body: bytes | str,
        url: str | None = None,
        clock_tolerance: int = 0,
    ) -> dict[str, Any]:
        """Return the token's claims if `signature` is genuine for `body` (and `url`).

        `body` must be the raw request body exactly as received (a str is UTF-8 encoded).
        `url`, when given, must equal the `sub` claim: the exact URL the request was sent to.
        `clock_tolerance` is the number of seconds of clock skew tolerated for exp/nbf/iat.
        Raises SignatureError otherwise.
        """
        if clock_tolerance < 0:
            raise ValueError(f"clock_tolerance must be >= 0 seconds, got {clock_tolerance}")
        if not signature:
            raise SignatureError(f"no signature: the {SIGNATURE_HEADER} header is missing or empty")
        claims = self._decode(signature, clock_tolerance)
        if url is not None and claims[CLAIM_SUBJECT] != url:
            raise SignatureError(
                f"token was issued for {claims[CLAIM_SUBJECT]!r}, not for this URL {url!r}"
            )
        raw = body.encode("utf-8") if isinstance(body, str) else body
        signed_hash = claims[CLAIM_BODY_HASH]
        if not isinstance(signed_hash, str) or not hmac.compare_digest(
            signed_hash.rstrip("="), body_hash(raw).rstrip("=")
        ):
            raise SignatureError(
                "body hash does not match: pass the raw request body, unparsed and unchanged"
            )
        return claims

    def _decode(self, signature: str, clock_tolerance: int) -> dict[str, Any]:
        """Check the HMAC with the current key, then the next; then the registered claims.

        Only a bad HMAC moves on to the next key: every other check does not depend on the key,
        so this accepts exactly the tokens that "current key, else next key" accepts.
        """
        for key in self._keys:
            try:
                claims: dict[str, Any] = jwt.decode(
                    signature,
                    key,
                    algorithms=[ALGORITHM],
                    issuer=ISSUER,
                    leeway=clock_tolerance,
                    options=_DECODE_OPTIONS,
                )
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError as error:
                raise SignatureError(_reason(error)) from error
            return claims
        raise SignatureError("signature does not match the current or the next signing key")
