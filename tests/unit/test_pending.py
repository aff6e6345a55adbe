"""The bound on publishes waiting for their commit: pure counting, no I/O."""

from __future__ import annotations

import logging

import pytest

from wirepost.api.pending import PendingPublishes
from wirepost.errors import Overloaded, Unavailable


def test_holds_count_while_open_and_are_released_after():
    pending = PendingPublishes(max_messages=10, max_bytes=1000)
    with pending.hold(3, 100):
        with pending.hold(2, 50):
            assert (pending.messages, pending.bytes) == (5, 150)
        assert (pending.messages, pending.bytes) == (3, 100)
    assert (pending.messages, pending.bytes) == (0, 0)


def test_a_hold_is_released_when_its_publish_fails():
    pending = PendingPublishes(max_messages=10, max_bytes=1000)
    with pytest.raises(RuntimeError), pending.hold(4, 40):
        raise RuntimeError("insert failed")
    assert (pending.messages, pending.bytes) == (0, 0)


@pytest.mark.parametrize(
    ("messages", "size", "named"),
    [(2, 10, "WIREPOST_MAX_PENDING_MESSAGES=5"), (1, 900, "WIREPOST_MAX_PENDING_BYTES=1000")],
)
def test_a_publish_past_either_limit_is_refused_with_retry_after(messages, size, named):
    pending = PendingPublishes(max_messages=5, max_bytes=1000)
    with pending.hold(4, 200):
        with pytest.raises(Overloaded) as refused, pending.hold(messages, size):
            pass
        assert (pending.messages, pending.bytes) == (4, 200)  # the refused one left no trace
    error = refused.value
    assert isinstance(error, Unavailable)
    assert error.status == 503
    assert error.retry_after == 1
    assert named in error.detail
    assert "4 messages" in error.detail


def test_exactly_at_the_limits_is_admitted():
    pending = PendingPublishes(max_messages=5, max_bytes=1000)
    with pending.hold(4, 900), pending.hold(1, 100):
        assert (pending.messages, pending.bytes) == (5, 1000)


def test_a_publish_larger_than_a_limit_goes_through_when_nothing_is_pending():
    pending = PendingPublishes(max_messages=5, max_bytes=1000)
    with pending.hold(1000, 5000), pytest.raises(Overloaded), pending.hold(1, 1):
        pass
    with pending.hold(1, 1):
        pass


def test_refusals_are_logged_once_per_episode(caplog):
    pending = PendingPublishes(max_messages=1, max_bytes=1000)
    caplog.set_level(logging.INFO, logger="wirepost.api.pending")
    with pending.hold(1, 1):
        for _ in range(3):
            with pytest.raises(Overloaded), pending.hold(1, 1):
                pass
    with pending.hold(1, 1):
        pass
    events = [(r.getMessage(), getattr(r, "refused", None)) for r in caplog.records]
    assert events == [("publishes_refused", None), ("publishes_admitted_again", 3)]


def test_resize_holds_the_real_amounts_once_known():
    pending = PendingPublishes(max_messages=10, max_bytes=1000)
    with pending.hold(1, 100) as held:
        held.resize(4, 80)
        assert (pending.messages, pending.bytes) == (4, 80)
    assert (pending.messages, pending.bytes) == (0, 0)


def test_resize_past_a_limit_is_refused_and_the_old_amounts_are_still_released():
    pending = PendingPublishes(max_messages=5, max_bytes=1000)
    with pending.hold(3, 10):
        with pytest.raises(Overloaded) as refused, pending.hold(1, 10) as held:
            held.resize(3, 10)  # a batch of 3 items admitted as 1 before its body was read
        assert "3 messages" in refused.value.detail  # the others, not counting itself
        assert (pending.messages, pending.bytes) == (3, 10)
    assert (pending.messages, pending.bytes) == (0, 0)


def test_resize_of_the_only_pending_publish_always_fits():
    pending = PendingPublishes(max_messages=5, max_bytes=1000)
    with pending.hold(1, 10) as held:
        held.resize(1000, 5000)
        assert (pending.messages, pending.bytes) == (1000, 5000)
