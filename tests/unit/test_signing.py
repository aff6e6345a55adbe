"""Signer → Verifier round trips, tamper cases, and parity with the official QStash Receiver."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import jwt
import pytest
import qstash
import qstash.errors

from wirepost.signing import (
    BASE58_ALPHABET,
    DEV_CURRENT_SIGNING_KEY,
    DEV_NEXT_SIGNING_KEY,
    Signer,
    generate_signing_key,
)
from wirepost_verify import (
    REQUIRED_CLAIMS,
    TOKEN_LIFETIME_SECONDS,
    SignatureError,
    Verifier,
    body_hash,
)
from wirepost_verify.protocol import HmacSha256

URL = "https://receiver.example/api/hook?tenant=7"
BODY = b'{"order": 42, "note": "caf\xc3\xa9"}'


def _now() -> int:
    return int(time.time())


def _verifier() -> Verifier:
    return Verifier(DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY)


def _receiver() -> qstash.Receiver:
    return qstash.Receiver(DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY)


def _claims(**changes: Any) -> dict[str, Any]:
    """Hosted-QStash-style claims for BODY and URL; a change of None removes the claim."""
    now = _now()
    claims: dict[str, Any] = {
        "iss": "Upstash",
        "sub": URL,
        "exp": now + TOKEN_LIFETIME_SECONDS,
        "nbf": now,
        "iat": now,
        "jti": "jwt_test",
        "body": body_hash(BODY),
    }
    claims.update(changes)
    return {name: value for name, value in claims.items() if value is not None}


def _pyjwt_token(key: str = DEV_CURRENT_SIGNING_KEY, **changes: Any) -> str:
    return jwt.encode(_claims(**changes), key, algorithm="HS256")


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned_token(header: dict[str, Any], claims: dict[str, Any]) -> str:
    segments = [json.dumps(header).encode(), json.dumps(claims).encode()]
    return ".".join(_b64url(segment) for segment in segments) + "."


# --- the signer's output -------------------------------------------------------------------------


def test_signer_token_verifies_with_verifier() -> None:
    token = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=BODY, now=_now())

    claims = _verifier().verify(token, BODY, URL)

    assert claims["sub"] == URL


def test_signer_token_verifies_with_official_qstash_receiver() -> None:
    token = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=BODY, now=_now())

    _receiver().verify(signature=token, body=BODY.decode(), url=URL)


def test_signer_token_decodes_with_pyjwt_into_the_contract_claims() -> None:
    now = _now()
    token = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=BODY, now=now)

    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, DEV_CURRENT_SIGNING_KEY, algorithms=["HS256"], issuer="Upstash")

    assert header == {"alg": "HS256", "typ": "JWT"}
    assert set(claims) == {"iss", "sub", "exp", "nbf", "iat", "jti", "body"}
    assert claims["iss"] == "Upstash"
    assert claims["sub"] == URL
    assert claims["iat"] == now
    assert claims["nbf"] == now
    assert claims["exp"] == now + 300
    assert isinstance(claims["jti"], str)
    assert claims["jti"].startswith("jwt_")
    assert claims["body"] == body_hash(BODY)
    assert claims["body"].endswith("=")


def test_signer_segments_are_unpadded_base64url() -> None:
    token = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=b"", now=_now())

    segments = token.split(".")

    assert len(segments) == 3
    for segment in segments:
        assert "=" not in segment
        assert not set(segment) & {"+", "/"}


def test_signer_mints_a_fresh_token_id_per_token() -> None:
    signer = Signer(DEV_CURRENT_SIGNING_KEY)
    now = _now()

    tokens = {signer.sign(url=URL, body=BODY, now=now) for _ in range(50)}
    token_ids = {jwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens}

    assert len(token_ids) == 50


def test_signer_signature_matches_pyjwt_for_the_same_claims() -> None:
    token = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=BODY, now=_now())
    claims = jwt.decode(token, options={"verify_signature": False})

    again = jwt.encode(claims, DEV_CURRENT_SIGNING_KEY, algorithm="HS256")

    assert again.split(".")[2] == token.split(".")[2]


def test_signer_rejects_an_empty_key() -> None:
    with pytest.raises(ValueError, match="signing key is empty"):
        Signer("")


def test_signer_repr_does_not_show_the_key() -> None:
    assert DEV_CURRENT_SIGNING_KEY not in repr(Signer(DEV_CURRENT_SIGNING_KEY))


def test_body_hash_of_empty_body_matches_upstream_example() -> None:
    assert body_hash(b"") == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="


@pytest.mark.parametrize("key_length", [0, 1, 32, 63, 64, 65, 200])
@pytest.mark.parametrize("message", [b"", b"abc", bytes(range(256)) * 5])
def test_hmac_sha256_with_hashed_pads_equals_the_standard_hmac(
    key_length: int, message: bytes
) -> None:
    key = bytes((7 * i + 3) % 256 for i in range(key_length))

    assert HmacSha256(key).digest(message) == hmac.new(key, message, hashlib.sha256).digest()


def test_hmac_sha256_matches_the_rfc_4231_test_case_2() -> None:
    mac = HmacSha256(b"Jefe").digest(b"what do ya want for nothing?")

    assert mac.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_hmac_sha256_repr_does_not_show_the_key() -> None:
    assert "Jefe" not in repr(HmacSha256(b"Jefe"))


def test_body_hash_is_padded_base64url_of_sha256() -> None:
    # SHA-256("abc") is the FIPS 180-2 test vector ba7816bf...f20015ad.
    digest = base64.urlsafe_b64decode(body_hash(b"abc"))

    assert digest.hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert body_hash(b"abc").endswith("=")


def test_generate_signing_key_has_the_qstash_shape() -> None:
    keys = {generate_signing_key() for _ in range(20)}

    assert len(keys) == 20
    for key in keys:
        assert len(key.encode()) == 32
        assert key.startswith("sig_")
        assert set(key[4:]) <= set(BASE58_ALPHABET)


# --- accepted tokens -----------------------------------------------------------------------------


def test_verifier_accepts_a_token_signed_with_the_next_key() -> None:
    token = Signer(DEV_NEXT_SIGNING_KEY).sign(url=URL, body=BODY, now=_now())

    assert _verifier().verify(token, BODY, URL)["sub"] == URL


def test_verifier_accepts_body_as_text() -> None:
    token = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=BODY, now=_now())

    assert _verifier().verify(token, BODY.decode("utf-8"))["body"] == body_hash(BODY)


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({}, id="hosted-qstash-baseline"),
        pytest.param({"nbf": 0}, id="nbf-zero"),
        pytest.param({"body": body_hash(BODY).rstrip("=")}, id="body-hash-unpadded"),
        pytest.param({"iat": None, "jti": None}, id="no-iat-no-jti"),
        pytest.param({"aud": ""}, id="empty-aud"),
    ],
)
def test_verifier_accepts_pyjwt_tokens_in_hosted_qstash_style(changes: dict[str, Any]) -> None:
    token = _pyjwt_token(**changes)

    _verifier().verify(token, BODY, URL)
    _receiver().verify(signature=token, body=BODY.decode(), url=URL)


def test_verifier_accepts_a_token_without_typ_header() -> None:
    token = jwt.encode(_claims(), DEV_CURRENT_SIGNING_KEY, algorithm="HS256", headers={"typ": None})

    assert "typ" not in jwt.get_unverified_header(token)
    _verifier().verify(token, BODY, URL)


def test_verifier_clock_tolerance_accepts_a_slightly_expired_token() -> None:
    token = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=BODY, now=_now() - 310)

    with pytest.raises(SignatureError, match="expired"):
        _verifier().verify(token, BODY)
    _verifier().verify(token, BODY, clock_tolerance=60)


def test_verifier_skips_the_url_check_without_a_url() -> None:
    token = Signer(DEV_CURRENT_SIGNING_KEY).sign(url="https://elsewhere/", body=BODY, now=_now())

    assert _verifier().verify(token, BODY)["sub"] == "https://elsewhere/"


# --- rejected tokens -----------------------------------------------------------------------------


def _rejected_cases() -> list[Any]:
    now = _now()
    signer = Signer(DEV_CURRENT_SIGNING_KEY)
    genuine = signer.sign(url=URL, body=BODY, now=now)
    header, claims, signature = genuine.split(".")
    forged_claims = _b64url(json.dumps({**_claims(), "sub": "https://evil/"}).encode())
    return [
        pytest.param(genuine, BODY + b" ", URL, "body hash", id="body-changed"),
        pytest.param(genuine, BODY, URL + "&x=1", "not for this URL", id="url-changed"),
        pytest.param(
            signer.sign(url=URL, body=BODY, now=now - 301), BODY, URL, "expired", id="expired"
        ),
        pytest.param(_pyjwt_token(nbf=now + 60), BODY, URL, "nbf", id="nbf-in-future"),
        pytest.param(_pyjwt_token(iat=now + 60), BODY, URL, "iat", id="iat-in-future"),
        pytest.param(
            Signer(generate_signing_key()).sign(url=URL, body=BODY, now=now),
            BODY,
            URL,
            "current or the next signing key",
            id="other-key",
        ),
        pytest.param(_pyjwt_token(iss="Wirepost"), BODY, URL, "issuer", id="wrong-issuer"),
        pytest.param(
            _unsigned_token({"alg": "none", "typ": "JWT"}, _claims()),
            BODY,
            URL,
            "HS256",
            id="alg-none",
        ),
        pytest.param(
            jwt.encode(_claims(), DEV_CURRENT_SIGNING_KEY + "x" * 32, algorithm="HS512"),
            BODY,
            URL,
            "HS256",
            id="alg-hs512",
        ),
        pytest.param(_pyjwt_token(aud="receiver"), BODY, URL, "aud", id="aud-present"),
        pytest.param(_pyjwt_token(jti=7), BODY, URL, "JWT ID", id="jti-not-a-string"),
        pytest.param(_pyjwt_token(sub=7), BODY, None, "Subject", id="sub-not-a-string"),
        pytest.param(
            f"{header}.{forged_claims}.{signature}", BODY, None, "signing key", id="claims-swapped"
        ),
        pytest.param(f"{header}.{claims}", BODY, URL, "malformed", id="two-segments"),
        pytest.param("not a token", BODY, URL, "malformed", id="garbage"),
    ]


# Tokens depend on the current time, so each case is built when its test runs, not at
# collection (a long suite would otherwise see "future" tokens turn current, genuine ones expire).
REJECTED_CASE_IDS = [case.id for case in _rejected_cases()]


def _rejected_case(case_id: str) -> tuple[str, bytes, str | None, str]:
    [values] = [case.values for case in _rejected_cases() if case.id == case_id]
    return values  # type: ignore[return-value]


@pytest.mark.parametrize("case_id", REJECTED_CASE_IDS)
def test_verifier_rejects_tampered_token(case_id: str) -> None:
    token, body, url, reason = _rejected_case(case_id)
    with pytest.raises(SignatureError) as caught:
        _verifier().verify(token, body, url)

    assert reason in caught.value.reason
    assert str(caught.value) == caught.value.reason


@pytest.mark.parametrize("case_id", REJECTED_CASE_IDS)
def test_official_receiver_also_rejects_tampered_token(case_id: str) -> None:
    token, body, url, _reason = _rejected_case(case_id)
    with pytest.raises(qstash.errors.SignatureError):
        _receiver().verify(signature=token, body=body.decode(), url=url)


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_verifier_rejects_token_missing_claim(claim: str) -> None:
    without_claim: dict[str, Any] = {claim: None}
    token = _pyjwt_token(**without_claim)

    with pytest.raises(SignatureError, match=f"no '{claim}' claim"):
        _verifier().verify(token, BODY, URL)


def test_verifier_rejects_a_non_string_body_claim() -> None:
    token = _pyjwt_token(body=12)

    with pytest.raises(SignatureError, match="body hash"):
        _verifier().verify(token, BODY)


def test_verifier_rejects_an_empty_signature() -> None:
    with pytest.raises(SignatureError, match="Upstash-Signature header is missing"):
        _verifier().verify("", BODY)


def test_verifier_rejects_a_token_signed_with_neither_key() -> None:
    verifier = Verifier(generate_signing_key(), generate_signing_key())
    token = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=BODY, now=_now())

    with pytest.raises(SignatureError, match="current or the next"):
        verifier.verify(token, BODY)


def test_verifier_rejects_a_negative_clock_tolerance() -> None:
    with pytest.raises(ValueError, match="clock_tolerance"):
        _verifier().verify("x", BODY, clock_tolerance=-1)


# --- keys from the environment -------------------------------------------------------------------

_KEY_VARS = (
    "QSTASH_CURRENT_SIGNING_KEY",
    "QSTASH_NEXT_SIGNING_KEY",
    "WIREPOST_CURRENT_SIGNING_KEY",
    "WIREPOST_NEXT_SIGNING_KEY",
)


@pytest.fixture
def clean_key_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in _KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_verifier_reads_qstash_key_variables(clean_key_env: pytest.MonkeyPatch) -> None:
    clean_key_env.setenv("QSTASH_CURRENT_SIGNING_KEY", DEV_NEXT_SIGNING_KEY)
    clean_key_env.setenv("QSTASH_NEXT_SIGNING_KEY", generate_signing_key())
    token = Signer(DEV_NEXT_SIGNING_KEY).sign(url=URL, body=BODY, now=_now())

    Verifier().verify(token, BODY)


def test_verifier_falls_back_to_wirepost_key_variables(clean_key_env: pytest.MonkeyPatch) -> None:
    clean_key_env.setenv("WIREPOST_CURRENT_SIGNING_KEY", generate_signing_key())
    clean_key_env.setenv("WIREPOST_NEXT_SIGNING_KEY", DEV_NEXT_SIGNING_KEY)
    token = Signer(DEV_NEXT_SIGNING_KEY).sign(url=URL, body=BODY, now=_now())

    Verifier().verify(token, BODY)


def test_verifier_prefers_qstash_over_wirepost_variables(clean_key_env: pytest.MonkeyPatch) -> None:
    clean_key_env.setenv("QSTASH_CURRENT_SIGNING_KEY", DEV_CURRENT_SIGNING_KEY)
    clean_key_env.setenv("QSTASH_NEXT_SIGNING_KEY", DEV_NEXT_SIGNING_KEY)
    clean_key_env.setenv("WIREPOST_CURRENT_SIGNING_KEY", generate_signing_key())
    clean_key_env.setenv("WIREPOST_NEXT_SIGNING_KEY", generate_signing_key())
    token = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=BODY, now=_now())

    Verifier().verify(token, BODY)


def test_verifier_without_keys_names_the_variables(clean_key_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="QSTASH_CURRENT_SIGNING_KEY or WIREPOST_CURRENT"):
        Verifier()


def test_verifier_without_next_key_names_the_variables(clean_key_env: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="QSTASH_NEXT_SIGNING_KEY or WIREPOST_NEXT"):
        Verifier(DEV_CURRENT_SIGNING_KEY)


def test_verifier_repr_does_not_show_the_keys() -> None:
    text = repr(_verifier())

    assert DEV_CURRENT_SIGNING_KEY not in text
    assert DEV_NEXT_SIGNING_KEY not in text
