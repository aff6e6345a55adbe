"""Checks an `Upstash-Signature` token against the raw request body and, optionally, the URL.

`Verifier` accepts exactly what the official QStash receivers accept (qstash-py 3.4.0's
`Receiver` is the reference): HS256 only; `iss`, `sub`, `exp`, `nbf` and `body` present; not
expired; `nbf` and `iat` not in the future (beyond `clock_tolerance`); `jti` and `sub` strings if
present; no non-empty `aud`; body hash equal with "=" padding ignored; `sub` equal to the URL when
one is given. It tries the current key, then the next one, so deliveries signed before and after
a key rotation both pass. Every failure is one `SignatureError`, never a `KeyError`.

Receivers call this once per delivery, so the token is taken apart by hand instead of through
`jwt.decode`, about 7 times faster (≈ 9 µs a token instead of ≈ 60 µs): each key's HMAC pads are
hashed once and copied per check, the usual JOSE header is recognised by its exact bytes, and
each segment is decoded once rather than once per key. Under the usual header the current key's
MAC is compared with the signature segment in its canonical base64url form, so a genuine token's
signature is never decoded, and the body hash is compared encoded too (5-10 % less time a token
than decoding both, measured in one process against the previous code). The checks, their order
and the failure reasons are PyJWT 2.15's, as `jwt.decode(token, key, algorithms=["HS256"],
issuer="Upstash", leeway=clock_tolerance, options={"require": [...]})` performs them;
tests/unit/test_verify_fast.py holds the two to the same verdicts and reasons. PyJWT itself is
used only in the constructor, to vet each key as `jwt.decode` would (no PEM/SSH/DER/JWK-shaped
keys; a warning on every check for keys under 32 bytes).

Depends on PyJWT and the standard library only (it uses orjson to parse the claims where that is
installed); does no I/O beyond reading the environment in the constructor.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import json
import os
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Final, NamedTuple

import jwt
from jwt.algorithms import HMACAlgorithm

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
    TOKEN_TYPE,
    HmacSha256,
)

CURRENT_KEY_ENV_VARS: Final = ("QSTASH_CURRENT_SIGNING_KEY", "WIREPOST_CURRENT_SIGNING_KEY")
NEXT_KEY_ENV_VARS: Final = ("QSTASH_NEXT_SIGNING_KEY", "WIREPOST_NEXT_SIGNING_KEY")

_STRICT_FROM_URLSAFE: Final = bytes.maketrans(b"-_+/=", b"+/!!!")
"""base64url to base64 for `a2b_base64(strict_mode=True)`, which then refuses every character
outside the base64url alphabet: "+", "/" and "=" (padding is stripped first) become "!"."""
_TO_URLSAFE: Final = bytes.maketrans(b"+/", b"-_")
_BASE64URL_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_PADDING_FOR_REMAINDER: Final = (b"", b"", b"==", b"=")
_CANONICAL_LAST_CHARACTERS: Final[tuple[frozenset[int], ...]] = (
    frozenset(_BASE64URL_ALPHABET),
    frozenset(),
    frozenset(_BASE64URL_ALPHABET[::16]),  # 2 characters = 1 byte + 4 spare bits, all zero
    frozenset(_BASE64URL_ALPHABET[::4]),  # 3 characters = 2 bytes + 2 spare bits, all zero
)
"""By length % 4 of the unpadded segment: the characters that may end it. Canonical base64url
leaves the bits after the last whole byte zero; PyJWT rejects a segment that sets them."""
_SUPPORTED_CRITICAL_EXTENSIONS: Final = frozenset({"b64"})

_NOT_HS256: Final = f"token is not signed with {ALGORITHM}"
_NO_KEY_MATCHES: Final = "signature does not match the current or the next signing key"


class SignatureError(Exception):
    """The request is not a genuine delivery; `reason` says why, for a 401 body or a log line."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def _malformed(detail: str) -> SignatureError:
    return SignatureError(f"malformed token: {detail}")


def _not_valid_yet(claim: str) -> SignatureError:
    return SignatureError(
        f"token is not valid yet: The token is not yet valid ({claim}); "
        "check that both clocks are synchronised"
    )


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


class _Key(NamedTuple):
    """One signing key, ready to check tokens: its HMAC state and what PyJWT would say of it."""

    hmac: HmacSha256
    unusable: str | None  # PyJWT refuses the key as an HMAC secret: every check fails with this
    too_short: str | None  # PyJWT's InsecureKeyLengthWarning text, emitted per check


def _prepared_key(key: str) -> _Key:
    algorithm = HMACAlgorithm(HMACAlgorithm.SHA256)
    key_hmac = HmacSha256(key.encode("utf-8"))
    try:
        prepared = algorithm.prepare_key(key)
    except jwt.InvalidKeyError as error:
        return _Key(key_hmac, str(error), None)
    return _Key(key_hmac, None, algorithm.check_key_length(prepared))


def _token_bytes(signature: str | bytes) -> bytes:
    """The token as PyJWT takes it: text is UTF-8 encoded, bytes are used as they are."""
    if isinstance(signature, str):
        return signature.encode("utf-8")
    if isinstance(signature, bytes):
        return signature
    raise _malformed(f"Invalid token type. Token must be a {bytes}")


def _decode_segment(segment: bytes, name: str) -> bytes:
    """Strict base64url, as PyJWT decodes each segment: up to two "=" tolerated, none required;
    anything outside the alphabet, a stray "=", or non-zero spare bits is rejected."""
    stripped = segment
    if segment.endswith(b"="):
        stripped = segment.rstrip(b"=")
        if len(segment) - len(stripped) > 2 or len(segment) % 4:
            raise _malformed(f"Invalid {name} padding")
    remainder = len(stripped) % 4
    if remainder and stripped[-1] not in _CANONICAL_LAST_CHARACTERS[remainder]:
        raise _malformed(f"Invalid {name} padding")  # remainder 1 allows no last character
    try:
        return binascii.a2b_base64(
            stripped.translate(_STRICT_FROM_URLSAFE) + _PADDING_FOR_REMAINDER[remainder],
            strict_mode=True,
        )
    except binascii.Error:
        raise _malformed(f"Invalid {name} padding") from None


_JSON_DECODER: Final = json.JSONDecoder()


def _orjson_loads() -> Callable[[bytes], Any] | None:
    """orjson's parser if it is installed: it is Wirepost's dependency, not the verifier's."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


_FAST_LOADS: Final = _orjson_loads()
_FLAT_TYPES: Final = frozenset({str, int, bool, type(None)})


def _loads(data: bytes) -> Any:
    """`json.loads(data)`, with shortcuts for the usual case: UTF-8 text that is one object.

    orjson, where it is installed, parses strict RFC 8259 JSON about three times faster. Its
    result is kept only for an object of strings, integers, booleans and nulls: orjson reads an
    integer beyond 64 bits as a float, so a float or a nested value (which could hide one) goes to
    `json`, as does everything orjson refuses (NaN, lone surrogates, a BOM, other encodings).
    Bytes starting with '{"' are UTF-8 to `json.loads` too (no BOM, no NUL), and when the object
    ends exactly at the end there is nothing left for it to check; anything else goes through
    `json.loads` itself, so results and error messages are the same.
    """
    if _FAST_LOADS is not None:
        try:
            parsed = _FAST_LOADS(data)
        except ValueError:  # orjson.JSONDecodeError
            parsed = None
        if type(parsed) is dict and _FLAT_TYPES.issuperset(map(type, parsed.values())):
            return parsed
    if data.startswith(b'{"'):
        text = data.decode("utf-8", "surrogatepass")
        parsed, end = _JSON_DECODER.raw_decode(text)
        if end == len(text):
            return parsed
    return json.loads(data)


def _parse_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        parsed = _loads(data)
    except (ValueError, RecursionError) as error:
        raise _malformed(f"Invalid {what} string: {error}") from error
    if not isinstance(parsed, dict):
        raise _malformed(f"Invalid {what} string: must be a json object")
    return parsed


def _check_critical(header: dict[str, Any]) -> None:
    critical = header["crit"]
    if not isinstance(critical, list) or not critical:
        raise _malformed("Invalid 'crit' header: must be a non-empty list")
    for extension in critical:
        if not isinstance(extension, str):
            raise _malformed("Invalid 'crit' header: values must be strings")
        if extension not in _SUPPORTED_CRITICAL_EXTENSIONS:
            raise _malformed(f"Unsupported critical extension: {extension}")
        if extension not in header:
            raise _malformed(f"Critical extension '{extension}' is missing from headers")


def _check_detached(header: dict[str, Any]) -> None:
    """A "b64": false header (RFC 7797) is always refused: deliveries never detach the body."""
    critical = header.get("crit") or []
    if not isinstance(critical, list) or "b64" not in critical:
        raise _malformed("The 'b64' header parameter requires 'b64' to be listed in 'crit'.")
    raise _malformed(
        'It is required that you pass in a value for the "detached_payload" argument to '
        "decode a message having the b64 header set to false."
    )


def _decode_with_header(
    header_segment: bytes, payload: bytes, crypto: bytes
) -> tuple[bytes, bytes]:
    """Decode the payload and signature under any JOSE header, checking it as PyJWT does.

    Returns (payload, signature) only for a header that allows an HS256 check.
    """
    header = _parse_object(_decode_segment(header_segment, "header"), "header")
    detached = header.get("b64", True) is False
    if detached and payload:
        raise _malformed("Payload segment must be empty when 'b64' is false.")
    decoded_payload = b"" if detached else _decode_segment(payload, "payload")
    signature = _decode_segment(crypto, "crypto")
    if "kid" in header and not isinstance(header["kid"], str):
        raise _malformed("Key ID header parameter must be a string")
    if "crit" in header:
        _check_critical(header)
    if detached:
        _check_detached(header)
    if header.get("alg") != ALGORITHM:
        raise SignatureError(_NOT_HS256)
    return decoded_payload, signature


def _b64url(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


_USUAL_HEADERS: Final = frozenset(
    _b64url(json.dumps(header, separators=(",", ":")).encode())
    for header in ({"alg": ALGORITHM, "typ": TOKEN_TYPE}, {"typ": TOKEN_TYPE, "alg": ALGORITHM})
)
"""The compact JOSE header as Wirepost, PyJWT and Go's encoding/json write it, the one QStash
documents. It passes every header check, so only the payload and signature need decoding."""


def _check_times(claims: dict[str, Any], leeway: int) -> None:
    """iat, nbf and exp as PyJWT checks them: int() must accept the value, then the clock."""
    now = time.time()
    if CLAIM_ISSUED_AT in claims:
        try:
            issued_at = int(claims[CLAIM_ISSUED_AT])
        except (ValueError, TypeError, OverflowError):
            raise _malformed("Issued At claim (iat) must be an integer.") from None
        if issued_at > now + leeway:
            raise _not_valid_yet(CLAIM_ISSUED_AT)
    try:
        not_before = int(claims[CLAIM_NOT_BEFORE])
    except (ValueError, TypeError, OverflowError):
        raise _malformed("Not Before claim (nbf) must be an integer.") from None
    if not_before > now + leeway:
        raise _not_valid_yet(CLAIM_NOT_BEFORE)
    try:
        expires_at = int(claims[CLAIM_EXPIRES_AT])
    except (ValueError, TypeError, OverflowError):
        raise _malformed("Expiration Time claim (exp) must be an integer.") from None
    if expires_at <= now - leeway:
        raise SignatureError(
            "token has expired (exp is in the past): sign a fresh token per attempt"
        )


def _usual_claims_pass(claims: dict[str, Any], leeway: int) -> bool:
    """True when the claims pass every check of `_check_claims` with plain values: the times
    whole numbers (not bools or floats), the strings strings. Anything else is left to
    `_check_claims`, which words the failure as PyJWT does (or accepts, say, a float `exp`)."""
    now = time.time()
    issued_at = claims.get(CLAIM_ISSUED_AT, 0)
    not_before = claims.get(CLAIM_NOT_BEFORE)
    expires_at = claims.get(CLAIM_EXPIRES_AT)
    return (
        type(issued_at) is int
        and type(not_before) is int
        and type(expires_at) is int
        and issued_at <= now + leeway
        and not_before <= now + leeway
        and expires_at > now - leeway
        and claims.get(CLAIM_ISSUER) == ISSUER
        and type(claims.get(CLAIM_SUBJECT)) is str
        and claims.get(CLAIM_BODY_HASH) is not None
        and not claims.get(CLAIM_AUDIENCE)
        and type(claims.get(CLAIM_TOKEN_ID, "")) is str
    )


def _check_claims(claims: dict[str, Any], leeway: int) -> None:
    """The registered claims, in PyJWT's order."""
    if _usual_claims_pass(claims, leeway):
        return
    for claim in REQUIRED_CLAIMS:
        if claims.get(claim) is None:
            raise SignatureError(f"token has no {claim!r} claim")
    _check_times(claims, leeway)
    issuer = claims[CLAIM_ISSUER]
    if not isinstance(issuer, str) or issuer != ISSUER:
        raise SignatureError(f"token issuer is not {ISSUER!r}")
    if claims.get(CLAIM_AUDIENCE):
        raise SignatureError("token has an 'aud' claim, which Upstash-style tokens never carry")
    if not isinstance(claims[CLAIM_SUBJECT], str):
        raise _malformed("Subject must be a string")
    if CLAIM_TOKEN_ID in claims and not isinstance(claims[CLAIM_TOKEN_ID], str):
        raise _malformed("JWT ID must be a string")


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
            _prepared_key(_key_from(current_signing_key, CURRENT_KEY_ENV_VARS, os.environ)),
            _prepared_key(_key_from(next_signing_key, NEXT_KEY_ENV_VARS, os.environ)),
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
        # compare_digest refuses non-ASCII text (TypeError): such a claim is simply a mismatch.
        if (
            not isinstance(signed_hash, str)
            or not signed_hash.isascii()
            or not hmac.compare_digest(
                signed_hash.rstrip("=").encode("ascii"), _b64url(hashlib.sha256(raw).digest())
            )
        ):
            raise SignatureError(
                "body hash does not match: pass the raw request body, unparsed and unchanged"
            )
        return claims

    def _decode(self, signature: str, clock_tolerance: int) -> dict[str, Any]:
        """Take the token apart, check the HMAC with the current key, then the next; then the
        registered claims.

        Only a bad HMAC moves on to the next key: every other check does not depend on the key,
        so this accepts exactly the tokens that "current key, else next key" accepts.
        """
        token = _token_bytes(signature)
        signing_input, dot, crypto_segment = token.rpartition(b".")
        header_segment, dot_too, payload_segment = signing_input.partition(b".")
        if not (dot and dot_too):
            raise _malformed("Not enough segments")
        signed = False
        if header_segment in _USUAL_HEADERS:
            payload = _decode_segment(payload_segment, "payload")
            # The usual case: the signature is the current key's MAC in canonical base64url,
            # which every strict decoder accepts, so comparing it encoded spares decoding it.
            current = self._keys[0]
            signed = (
                current.unusable is None
                and current.too_short is None
                and hmac.compare_digest(_b64url(current.hmac.digest(signing_input)), crypto_segment)
            )
            mac = b"" if signed else _decode_segment(crypto_segment, "crypto")
        else:
            payload, mac = _decode_with_header(header_segment, payload_segment, crypto_segment)
        if not signed:
            for key_hmac, unusable, too_short in self._keys:
                if unusable is not None:
                    raise _malformed(unusable)
                if too_short is not None:
                    warnings.warn(too_short, jwt.InsecureKeyLengthWarning, stacklevel=3)
                if hmac.compare_digest(mac, key_hmac.digest(signing_input)):
                    break
            else:
                raise SignatureError(_NO_KEY_MATCHES)
        claims = _parse_object(payload, "payload")
        _check_claims(claims, clock_tolerance)
        return claims
