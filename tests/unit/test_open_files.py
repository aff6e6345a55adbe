"""The open-file limit a server process raises for its sockets: measured on this process's own
limits, lowered for each test and restored afterwards."""

from __future__ import annotations

import logging
import resource
from collections.abc import Iterator

import pytest

from wirepost.open_files import HEADROOM, ensure_open_files


@pytest.fixture
def limits() -> Iterator[tuple[int, int]]:
    saved = resource.getrlimit(resource.RLIMIT_NOFILE)
    yield saved
    resource.setrlimit(resource.RLIMIT_NOFILE, saved)


def _hard(limits: tuple[int, int]) -> int:
    hard = limits[1]
    return 1 << 20 if hard == resource.RLIM_INFINITY else hard


def test_a_low_soft_limit_is_raised_to_the_hard_limit(limits, caplog):
    if _hard(limits) < 2_000 + HEADROOM:
        pytest.skip("the hard open-file limit here is below what the test asks for")
    resource.setrlimit(resource.RLIMIT_NOFILE, (512, limits[1]))
    with caplog.at_level(logging.WARNING, logger="wirepost.open_files"):
        assert ensure_open_files(2_000) == _hard(limits)  # room for API clients too
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (_hard(limits), limits[1])
    assert not caplog.records


def test_a_soft_limit_already_at_the_hard_limit_is_left_alone(limits):
    resource.setrlimit(resource.RLIMIT_NOFILE, (_hard(limits), limits[1]))
    assert ensure_open_files(100) == _hard(limits)
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == _hard(limits)


def test_a_hard_limit_too_low_is_reached_and_named_in_a_warning(limits, caplog):
    hard = _hard(limits)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), limits[1]))
    with caplog.at_level(logging.WARNING, logger="wirepost.open_files"):
        assert ensure_open_files(hard) == hard  # wants hard + HEADROOM: more than allowed
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
    [record] = caplog.records
    assert record.getMessage() == "open_file_limit_low"
    assert record.wanted == hard + HEADROOM
    assert "WIREPOST_DELIVERY_CONCURRENCY" in record.hint
