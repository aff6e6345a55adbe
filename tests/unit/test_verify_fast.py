"""Verifier.verify takes tokens apart by hand; here it is held to two oracles on random tokens.

- qstash-py's `Receiver` (the reference for what a receiver accepts) must accept exactly the same
  tokens. Its `clock_tolerance` has no effect, so it is compared at tolerance 0; a missing `body`
  claim makes it raise KeyError, which counts as a rejection like any other exception.
- `_pyjwt_outcome`, the PyJWT-based `Verifier.verify` that the hand-made one replaced, must return
  the same claims or give the same reason, at any tolerance. The one deliberate difference: a
  non-ASCII `body` claim made the old code raise TypeError (from hmac.compare_digest); now it is a
  body hash mismatch, which the oracle below reports too.

Times are whole offsets from now, at least 30 s away from every clock boundary at tolerance 0 or
60, so a slow example cannot flip a verdict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import warnings
from collections.abc import Callable
from typing import Any

import jwt
import pytest
import qstash
from hypothesis import given, settings
from hypothesis import strategies as st

import wirepost_verify.verify
from wirepost.signing import DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, Signer
from wirepost_verify import REQUIRED_CLAIMS, SignatureError, Verifier, body_hash

URL = "https://receiver.example/api/hook?tenant=7"
OTHER_URL = "https://receiver.example/api/hook?tenant=8"
OTHER_KEY = "sig_3sQd8dNfTkXcGVwQ4e9YbZq7RmLp"  # 32 bytes, neither of the verifier's keys
KEYS = (DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY)
BODIES = ("", '{"order": 42}', "café ☕", "x" * 300)

_EXAMPLES = settings(max_examples=200, deadline=None)
_HASHES: dict[str, Callable[[], Any]] = {
    "HS256": hashlib.sha256,
    "HS384": hashlib.sha384,
    "HS512": hashlib.sha512,
}

# --- the oracles ---------------------------------------------------------------------------------


def _pyjwt_reason(error: jwt.PyJWTError) -> str:
    """The PyJWT-based Verifier's translation of PyJWT errors, verbatim."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return "token has expired (exp is in the past): sign a fresh token per attempt"
    if isinstance(error, jwt.ImmatureSignatureError):
        return f"token is not valid yet: {error}; check that both clocks are synchronised"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"token has no {error.claim!r} claim"
    if isinstance(error, jwt.InvalidIssuerError):
        return "token issuer is not 'Upstash'"
    if isinstance(error, jwt.InvalidAudienceError):
        return "token has an 'aud' claim, which Upstash-style tokens never carry"
    if isinstance(error, jwt.InvalidAlgorithmError):
        return "token is not signed with HS256"
    return f"malformed token: {error}"


def _pyjwt_outcome(
    keys: tuple[str, str], token: str, body: bytes, url: str | None, tolerance: int
) -> str:
    """What the PyJWT-based Verifier.verify did: "accepted <claims>" or "rejected <reason>"."""
    if not token:
        return "rejected no signature: the Upstash-Signature header is missing or empty"
    claims: dict[str, Any] | None = None
    for key in keys:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                issuer="Upstash",
                leeway=tolerance,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.InvalidSignatureError:
            continue
        except jwt.PyJWTError as error:
            return f"rejected {_pyjwt_reason(error)}"
        break
    if claims is None:
        return "rejected signature does not match the current or the next signing key"
    if url is not None and claims["sub"] != url:
        return f"rejected token was issued for {claims['sub']!r}, not for this URL {url!r}"
    signed_hash = claims["body"]
    if (
        not isinstance(signed_hash, str)
        or not signed_hash.isascii()  # the deliberate difference: this raised TypeError
        or not hmac.compare_digest(signed_hash.rstrip("="), body_hash(body).rstrip("="))
    ):
        return (
            "rejected body hash does not match: pass the raw request body, unparsed and unchanged"
        )
    return f"accepted {claims!r}"


def _outcome(verifier: Verifier, token: str, body: bytes, url: str | None, tolerance: int) -> str:
    try:
        claims = verifier.verify(token, body, url, clock_tolerance=tolerance)
    except SignatureError as error:
        return f"rejected {error.reason}"
    return f"accepted {claims!r}"


def _qstash_accepts(token: str, body: bytes, url: str | None) -> bool:
    receiver = qstash.Receiver(*KEYS)
    try:
        receiver.verify(signature=token, body=body.decode("utf-8"), url=url)
    except Exception:  # KeyError for a missing body claim is a rejection too
        return False
    return True


def _assert_same_verdicts(token: str, body: bytes, url: str | None, tolerance: int) -> str:
    verifier = Verifier(*KEYS)
    outcome = _outcome(verifier, token, body, url, tolerance)

    assert outcome == _pyjwt_outcome(KEYS, token, body, url, tolerance)
    strict = _outcome(verifier, token, body, url, 0)
    assert strict.startswith("accepted") == _qstash_accepts(token, body, url), strict
    return outcome


# --- token building ------------------------------------------------------------------------------


def _segment(data: bytes) -> str:
    return jwt.utils.base64url_encode(data).decode("ascii")


def _hand_token(header: dict[str, Any], payload: bytes, key: str, *, compact: bool = False) -> str:
    """Any header and payload bytes, HMAC-signed for header["alg"] (no signature otherwise).
    ``compact`` writes the header without spaces, as signers do: the verifier recognises the usual
    header in that form and takes its shortcut (the spaced form takes the general path)."""
    separators = (",", ":") if compact else (", ", ": ")
    return _hand_token_from_segment(
        header, _segment(json.dumps(header, separators=separators).encode()), payload, key
    )


def _hand_token_from_segment(
    header: dict[str, Any], header_segment: str, payload: bytes | str, key: str
) -> str:
    """As _hand_token, with the header segment given; a payload given as text is used as the
    payload segment as it is (it may be malformed), and signed as such."""
    payload_segment = payload if isinstance(payload, str) else _segment(payload)
    signing_input = f"{header_segment}.{payload_segment}"
    digest = _HASHES.get(header.get("alg"))  # type: ignore[arg-type]
    mac = b"" if digest is None else hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{_segment(mac)}"


DROP = object()
weird_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.sampled_from(["123", " 17 ", "1_000", "1.5", "٣", "", "Upstash", URL, OTHER_URL]),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
time_offsets = st.sampled_from([-100_000, -3600, -400, -120, -30, 0, 30, 120, 400, 3600])


def _claim(default: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly (17 in 20) the genuine value, sometimes missing, sometimes anything at all."""
    return st.integers(0, 19).flatmap(
        lambda n: default if n < 17 else st.just(DROP) if n == 17 else weird_values
    )


@st.composite
def claim_recipes(draw: st.DrawFn) -> dict[str, Any]:
    """Claims with their time claims as offsets from now, resolved by `_claims_at`."""
    body_text = draw(st.sampled_from(BODIES))
    return {
        "body_text": body_text,
        "iss": draw(_claim(st.just("Upstash"))),
        "sub": draw(_claim(st.sampled_from([URL, OTHER_URL]))),
        "exp": draw(_claim(_mostly(("offset", 300), time_offsets.map(_as_offset)))),
        "nbf": draw(_claim(_mostly(("offset", 0), st.just(0) | time_offsets.map(_as_offset)))),
        "iat": draw(_claim(_mostly(("offset", 0), time_offsets.map(_as_offset)))),
        "jti": draw(_claim(st.just("jwt_0123456789abcdef"))),
        "body": draw(
            _claim(
                st.sampled_from(
                    [body_hash(body_text.encode()), body_hash(body_text.encode()).rstrip("=")]
                )
                | st.sampled_from(BODIES).map(lambda text: body_hash(text.encode()))
            )
        ),
        "aud": draw(st.one_of(st.just(DROP), st.sampled_from(["", [], 0, False, "x", ["x"]]))),
        "extra": draw(st.one_of(st.just(DROP), weird_values)),
    }


def _as_offset(offset: int) -> tuple[str, int]:
    return ("offset", offset)


def _mostly(usual: Any, unusual: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.integers(0, 3).flatmap(lambda n: st.just(usual) if n < 3 else unusual)


def _claims_at(recipe: dict[str, Any], now: int) -> dict[str, Any]:
    claims: dict[str, Any] = {}
    for name, value in recipe.items():
        if name == "body_text" or value is DROP:
            continue
        is_offset = isinstance(value, tuple) and len(value) == 2 and value[0] == "offset"
        claims[name] = now + value[1] if is_offset else value
    return claims


PLAIN_HEADER = {"alg": "HS256", "typ": "JWT"}
header_recipes = st.one_of(
    st.just(PLAIN_HEADER),
    st.just(PLAIN_HEADER),
    st.fixed_dictionaries(
        {"alg": st.sampled_from(["HS256", "HS384", "HS512", "none", "hs256", ""])},
        optional={
            "typ": st.sampled_from(["JWT", "jwt", None]),
            "kid": st.one_of(st.just("key-1"), st.integers()),
            "crit": st.sampled_from([["b64"], [], ["exp"], "b64", [1]]),
            "b64": st.booleans(),
        },
    ),
)


# --- accept/reject parity -------------------------------------------------------------------------


@_EXAMPLES
@given(
    recipe=claim_recipes(),
    header=header_recipes,
    key=st.sampled_from([*KEYS, OTHER_KEY]),
    url=st.sampled_from([URL, None]),
    tolerance=st.sampled_from([0, 60]),
    with_pyjwt=st.booleans(),
)
def test_verify_agrees_with_receivers_on_random_claim_sets(
    recipe: dict[str, Any],
    header: dict[str, Any],
    key: str,
    url: str | None,
    tolerance: int,
    with_pyjwt: bool,
) -> None:
    claims = _claims_at(recipe, int(time.time()))
    token = _hand_token(header, json.dumps(claims).encode(), key)
    if with_pyjwt:
        extra_headers = {name: value for name, value in header.items() if name != "alg"}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
                token = jwt.encode(claims, key, algorithm=header["alg"], headers=extra_headers)
        except (TypeError, ValueError, NotImplementedError, jwt.PyJWTError):
            pass  # PyJWT will not write this one: the hand-made token stands

    _assert_same_verdicts(token, recipe["body_text"].encode(), url, tolerance)


@_EXAMPLES
@given(
    claim=st.sampled_from(["exp", "nbf", "iat"]),
    offset=time_offsets,
    form=st.sampled_from([int, float, str, lambda n: f" {n} ", lambda n: n + 0.5, bool]),
    odd=st.one_of(st.none(), weird_values, st.sampled_from([1e300, -1e300, 10**30, "1e9"])),
    tolerance=st.sampled_from([0, 60]),
)
def test_verify_agrees_with_receivers_on_time_claim_types(
    claim: str, offset: int, form: Callable[[int], Any], odd: Any, tolerance: int
) -> None:
    """PyJWT takes whatever int() takes: numeric strings, floats (truncated), booleans."""
    now = int(time.time())
    claims: dict[str, Any] = {"iss": "Upstash", "sub": URL, "exp": now + 300, "nbf": now}
    claims |= {"iat": now, "body": body_hash(b"{}")}
    when = now + offset + (300 if claim == "exp" else 0)
    claims[claim] = form(when) if odd is None else odd
    token = _hand_token(PLAIN_HEADER, json.dumps(claims).encode(), DEV_NEXT_SIGNING_KEY)

    _assert_same_verdicts(token, b"{}", URL, tolerance)


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        ("aud", "x"),
        ("aud", ["x"]),
        ("aud", ""),
        ("jti", None),
        ("jti", 7),
        ("iat", None),
        ("iat", True),
        ("iat", 3600),
        ("exp", -30),
        ("nbf", 3600),
        ("nbf", 1.5),
        ("iss", "upstash"),
        ("iss", None),
        ("sub", 7),
        ("body", None),
        ("body", 7),
        ("extra", 2**64),
        ("extra", -(2**63) - 1),
        ("extra", [2**70]),
        ("extra", {"n": 2**70}),
        ("extra", 0.1),
    ],
)
@pytest.mark.parametrize("parser", ["orjson", "json only"])
@pytest.mark.parametrize("compact", [True, False], ids=["usual header", "spaced header"])
def test_verify_agrees_with_receivers_when_one_claim_is_unusual(
    claim: str, value: Any, parser: str, compact: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The shortcut for usual claims and orjson's parse pass only what the full checks pass, and
    return the same claims: each case changes one claim of a genuine token. Times are offsets.
    "json only" is a receiver without orjson installed."""
    if parser == "json only":
        monkeypatch.setattr(wirepost_verify.verify, "_FAST_LOADS", None)
    now = int(time.time())
    claims: dict[str, Any] = {"iss": "Upstash", "sub": URL, "exp": now + 300, "nbf": now}
    claims |= {"iat": now, "jti": "jwt_0123456789abcdef", "body": body_hash(b"{}")}
    is_offset = claim in ("exp", "nbf", "iat") and type(value) is int
    claims[claim] = now + value if is_offset else value
    token = _hand_token(
        PLAIN_HEADER, json.dumps(claims).encode(), DEV_CURRENT_SIGNING_KEY, compact=compact
    )

    _assert_same_verdicts(token, b"{}", URL, 0)


mutations = st.lists(
    st.one_of(
        st.tuples(st.just("replace"), st.integers(0, 400), st.sampled_from("AQgwBE-_+/=.é ~0")),
        st.tuples(st.just("insert"), st.integers(0, 400), st.sampled_from("AQgwBE-_+/=.é ~0")),
        st.tuples(st.just("delete"), st.integers(0, 400), st.just("")),
        st.tuples(st.just("swap"), st.permutations([0, 1, 2]), st.just("")),
        st.tuples(st.just("pad"), st.integers(0, 2), st.sampled_from(["=", "==", "==="])),
    ),
    max_size=3,
)


def _mutated(token: str, mutation: tuple[str, Any, str]) -> str:
    kind, where, text = mutation
    if kind == "swap":
        segments = token.split(".")
        return ".".join(segments[i] for i in where if i < len(segments))
    if kind == "pad":
        segments = token.split(".")
        if where < len(segments):
            segments[where] += text
        return ".".join(segments)
    where = min(where, len(token))
    if kind == "insert":
        return token[:where] + text + token[where:]
    skip = 1 if where < len(token) else 0
    return token[:where] + text + token[where + skip :]


@_EXAMPLES
@given(
    key=st.sampled_from([*KEYS, OTHER_KEY]),
    signed_url=st.sampled_from([URL, OTHER_URL]),
    body_text=st.sampled_from(BODIES),
    age=st.sampled_from([0, 200, 400]),
    changes=mutations,
    url=st.sampled_from([URL, None]),
    tolerance=st.sampled_from([0, 60]),
)
def test_verify_agrees_with_receivers_on_tampered_signer_tokens(
    key: str,
    signed_url: str,
    body_text: str,
    age: int,
    changes: list[tuple[str, Any, str]],
    url: str | None,
    tolerance: int,
) -> None:
    token = Signer(key).sign(url=signed_url, body=body_text.encode(), now=int(time.time()) - age)
    for change in changes:
        token = _mutated(token, change)

    _assert_same_verdicts(token, body_text.encode(), url, tolerance)


segment_text = st.text(alphabet="AQgwBEMyz09-_+/=é \x00", max_size=12)


@_EXAMPLES
@given(
    header=st.one_of(st.just("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"), segment_text),
    payload_tail=segment_text,
    signature_tail=segment_text,
    extra_dots=st.integers(0, 2),
)
def test_verify_agrees_with_receivers_on_malformed_segments(
    header: str, payload_tail: str, signature_tail: str, extra_dots: int
) -> None:
    genuine = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=b"{}", now=int(time.time()))
    _, payload, signature = genuine.split(".")
    token = ".".join([header, payload[:8] + payload_tail, signature[:40] + signature_tail])
    token += "." * extra_dots

    _assert_same_verdicts(token, b"{}", URL, 0)


payload_encodings: list[Callable[[str], bytes]] = [
    lambda text: text.encode(),
    lambda text: text.encode("utf-16"),
    lambda text: text.encode("utf-16-le"),
    lambda text: text.encode("utf-32"),
    lambda text: b"\xef\xbb\xbf" + text.encode(),
    lambda text: text.encode() + b" \n",
    lambda text: b" " + text.encode(),
    lambda text: text.encode() + b"x",
    lambda text: text.encode() + b"{}",
    lambda text: ("[" + text + "]").encode(),
    lambda text: text.replace('"jti": "jwt_x"', '"jti": "\\ud800"').encode(),
    lambda text: text.replace('"jti": "jwt_x"', '"jti": "\xed\xa0\x80"').encode("latin-1"),
    lambda text: text.replace('"jti": "jwt_x"', '"jti": NaN').encode(),
    lambda text: text.replace('"jti": "jwt_x"', '"jti": ' + "[" * 3000 + "]" * 3000).encode(),
    lambda text: text.replace("}", ', "iss": "Upstash"}').encode(),
]


@_EXAMPLES
@given(
    encoding=st.sampled_from(payload_encodings),
    key=st.sampled_from([*KEYS, OTHER_KEY]),
    crypto_padding=st.sampled_from(["", "=", "=="]),
    compact=st.booleans(),
)
def test_verify_agrees_with_receivers_on_unusual_payload_bytes(
    encoding: Callable[[str], bytes], key: str, crypto_padding: str, compact: bool
) -> None:
    now = int(time.time())
    claims = {
        "iss": "Upstash",
        "sub": URL,
        "exp": now + 300,
        "nbf": now,
        "iat": now,
        "jti": "jwt_x",
        "body": body_hash(b"{}"),
    }
    token = _hand_token(PLAIN_HEADER, encoding(json.dumps(claims)), key, compact=compact)
    token += crypto_padding

    _assert_same_verdicts(token, b"{}", URL, 0)


@_EXAMPLES
@given(
    tail=segment_text,
    cut=st.integers(0, 4),
    key=st.sampled_from([*KEYS, OTHER_KEY]),
    crypto_padding=st.sampled_from(["", "=", "=="]),
)
def test_verify_agrees_with_receivers_on_malformed_payload_segments_with_a_genuine_mac(
    tail: str, cut: int, key: str, crypto_padding: str
) -> None:
    """The usual header and a MAC made over a malformed payload segment: the verifier's
    shortcut (MAC first, compared encoded) must still reject the segment as PyJWT does."""
    genuine = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=b"{}", now=int(time.time()))
    header_segment, payload_segment, _ = genuine.split(".")
    payload = payload_segment[: len(payload_segment) - cut] + tail
    token = _hand_token_from_segment(PLAIN_HEADER, header_segment, payload, key)

    _assert_same_verdicts(token + crypto_padding, b"{}", URL, 0)


# --- fixed cases ----------------------------------------------------------------------------------


def test_verify_accepts_a_genuine_token_and_returns_its_claims() -> None:
    now = int(time.time())
    token = Signer(DEV_CURRENT_SIGNING_KEY).sign(url=URL, body=b"{}", now=now)

    outcome = _assert_same_verdicts(token, b"{}", URL, 0)

    assert outcome.startswith("accepted")
    assert Verifier(*KEYS).verify(token, b"{}", URL)["iat"] == now


def test_verify_accepts_padded_segments_as_pyjwt_does() -> None:
    claims = {"iss": "Upstash", "sub": URL, "exp": int(time.time()) + 300, "nbf": 0}
    claims["body"] = body_hash(b"")
    header, payload, signature = jwt.encode(claims, DEV_CURRENT_SIGNING_KEY).split(".")
    assert len(signature) % 4 == 3

    assert Verifier(*KEYS).verify(f"{header}.{payload}.{signature}=", b"")["body"] == body_hash(b"")
    with pytest.raises(SignatureError, match="Invalid crypto padding"):
        Verifier(*KEYS).verify(f"{header}.{payload}.{signature}==", b"")


def test_verify_rejects_a_non_ascii_body_claim_as_a_mismatch() -> None:
    token = jwt.encode(
        {"iss": "Upstash", "sub": URL, "exp": int(time.time()) + 300, "nbf": 0, "body": "é"},
        DEV_CURRENT_SIGNING_KEY,
    )

    with pytest.raises(SignatureError, match="body hash does not match"):
        Verifier(*KEYS).verify(token, b"{}")
    assert not _qstash_accepts(token, b"{}", None)


def test_verify_takes_a_token_as_bytes_as_pyjwt_did() -> None:
    token = Signer(DEV_NEXT_SIGNING_KEY).sign(url=URL, body=b"{}", now=int(time.time()))

    claims = Verifier(*KEYS).verify(token.encode(), b"{}", URL)  # type: ignore[arg-type]

    assert claims["sub"] == URL
    with pytest.raises(SignatureError, match="Invalid token type"):
        Verifier(*KEYS).verify(7, b"{}")  # type: ignore[arg-type]


def test_verify_warns_about_a_short_key_on_every_check_as_pyjwt_did() -> None:
    keys = ("short-key", "another-short-key")
    token = Signer("short-key").sign(url=URL, body=b"{}", now=int(time.time()))

    with pytest.warns(jwt.InsecureKeyLengthWarning) as new_warnings:
        outcome = _outcome(Verifier(*keys), token, b"{}", URL, 0)
    with pytest.warns(jwt.InsecureKeyLengthWarning) as old_warnings:
        expected = _pyjwt_outcome(keys, token, b"{}", URL, 0)

    assert outcome == expected
    assert outcome.startswith("accepted")
    assert [str(w.message) for w in new_warnings] == [str(w.message) for w in old_warnings]


@pytest.mark.parametrize(
    "unusable_key",
    [
        "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ",
        '{"kty": "oct", "k": "c2lnXzdrWWp3NDhtaFk3a0FqcU5HY3k2Y3IyOVJKNnI"}',
    ],
)
@pytest.mark.parametrize("position", [0, 1])
def test_verify_refuses_a_key_pyjwt_refuses_as_an_hmac_secret(
    unusable_key: str, position: int
) -> None:
    keys = (
        (unusable_key, DEV_NEXT_SIGNING_KEY)
        if position == 0
        else (DEV_CURRENT_SIGNING_KEY, unusable_key)
    )
    token = Signer(DEV_NEXT_SIGNING_KEY).sign(url=URL, body=b"{}", now=int(time.time()))

    outcome = _outcome(Verifier(*keys), token, b"{}", URL, 0)

    assert outcome == _pyjwt_outcome(keys, token, b"{}", URL, 0)
    assert outcome.startswith("rejected malformed token:")
