"""When a woken delivery loop claims (wirepost.delivery.loop.claim_linger; pure, no I/O)."""

from __future__ import annotations

import pytest

from wirepost.delivery.loop import CLAIM_LINGER_SECONDS, claim_linger


def test_a_wake_up_after_a_quiet_spell_claims_at_once() -> None:
    assert claim_linger(last_claim_began=100.0, now=100.0 + CLAIM_LINGER_SECONDS) == 0.0
    assert claim_linger(last_claim_began=100.0, now=160.0) == 0.0


def test_a_wake_up_soon_after_a_claim_waits_out_the_rest_of_the_linger() -> None:
    assert claim_linger(last_claim_began=100.0, now=100.001) == pytest.approx(
        CLAIM_LINGER_SECONDS - 0.001
    )
