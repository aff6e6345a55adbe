"""The sink's counters: a poll of the counters alone does not walk the samples."""

from __future__ import annotations

from loadtest.sink import SinkStats


def _stats(deliveries: int) -> SinkStats:
    stats = SinkStats()
    start_ns = 1_000_000_000
    for seq in range(deliveries):
        received_ns = start_ns + seq * 1_000_000  # one delivery a millisecond
        stats.record("/in", seq, received_ns - 2_000_000, received_ns)
    return stats


def test_counters_poll_leaves_out_the_figures_that_read_every_sample() -> None:
    counters = _stats(100).as_json(latency=False, timeline=False)

    assert counters["received"] == 100
    assert counters["unique"] == 100
    assert "middle_rate" not in counters
    assert "latency_ms" not in counters


def test_latency_poll_adds_the_middle_rate_and_percentiles() -> None:
    figures = _stats(101).as_json(latency=True, timeline=False)

    assert figures["middle_rate"] == 1000.0  # the middle 80 %: 80 intervals of 1 ms
    assert figures["latency_ms"]["p50"] == 2.0
