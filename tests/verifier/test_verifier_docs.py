"""The test vector in docs/receiving.md verifies, so the page cannot drift from the code."""

from __future__ import annotations

import json
import time
from pathlib import Path

from wirepost.signing import DEV_NEXT_SIGNING_KEY
from wirepost_verify import Verifier

RECEIVING_DOC = Path(__file__).resolve().parents[2] / "docs" / "receiving.md"


def _test_vector() -> dict[str, str]:
    text = RECEIVING_DOC.read_text(encoding="utf-8")
    block = text.split("### Test vector", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    fields = (line.split(":", 1) for line in block.splitlines() if line.strip())
    return {name.strip(): value.strip() for name, value in fields}


def test_docs_test_vector_verifies_with_time_checks_relaxed() -> None:
    vector = _test_vector()
    claims = json.loads(vector["claims"])
    long_enough = int(time.time()) - claims["iat"] + 3600

    verified = Verifier(vector["key"], DEV_NEXT_SIGNING_KEY).verify(
        vector["token"], vector["body"].encode(), vector["url"], clock_tolerance=long_enough
    )

    assert verified == claims
