"""The machine-pressure figures of a phase, from /proc/pressure-shaped files."""

from __future__ import annotations

import asyncio
from pathlib import Path

from loadtest.pressure import PressureSampler, parse, read_totals, shares

CPU = (
    "some avg10=1.00 avg60=2.00 avg300=3.00 total={some}\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
)
IO = (
    "some avg10=0.00 avg60=0.00 avg300=0.00 total={some}\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total={full}\n"
)


def _write(directory: Path, cpu_some: int, io_some: int, io_full: int) -> None:
    (directory / "cpu").write_text(CPU.format(some=cpu_some))
    (directory / "io").write_text(IO.format(some=io_some, full=io_full))


def test_parse_reads_the_total_of_each_line() -> None:
    assert parse("io", IO.format(some=120, full=45)) == {"io_some": 120, "io_full": 45}


def test_read_totals_is_none_without_pressure_files(tmp_path: Path) -> None:
    assert read_totals(tmp_path) is None
    _write(tmp_path, 10, 20, 5)
    assert read_totals(tmp_path) == {"cpu_some": 10, "cpu_full": 0, "io_some": 20, "io_full": 5}


def test_shares_are_stalled_time_over_elapsed_time() -> None:
    before = {"cpu_some": 0, "io_some": 1_000_000, "io_full": 0}
    after = {"cpu_some": 500_000, "io_some": 1_250_000, "io_full": 20_000}

    assert shares(before, after, 2.0) == {
        "cpu_some_pct": 25.0,
        "io_some_pct": 12.5,
        "io_full_pct": 1.0,
    }


async def test_sampler_reports_the_phase_and_each_second(tmp_path: Path) -> None:
    _write(tmp_path, 0, 0, 0)
    sampler = PressureSampler(every=0.05, directory=tmp_path)
    sampler.start()
    await asyncio.sleep(0.01)
    _write(tmp_path, 40_000, 10_000, 10_000)  # 40 ms waiting for a CPU, 10 ms stalled on IO
    await asyncio.sleep(0.13)
    summary = sampler.stop()

    assert summary is not None
    # 40 ms over an elapsed time between 0.14 s and 1 s, rounded to one decimal; the event
    # loop's timers may fire up to a millisecond early (uvloop rounds them to milliseconds), so
    # the two sleeps can take 0.138 s (seen once in CI: 28.7 % against a bound of 28.6)
    assert 4.0 <= summary["cpu_some_pct"] <= round(100 * 0.04 / 0.138, 1)
    assert summary["io_full_pct"] == summary["io_some_pct"]
    assert abs(summary["io_full_pct"] - summary["cpu_some_pct"] / 4) <= 0.1
    timeline = summary["timeline"]
    assert len(timeline) >= 2
    assert timeline[0]["second"] == 0.0
    assert timeline[0]["cpu_some_pct"] == summary["worst_second_cpu_some_pct"] > 0
    assert all(entry["cpu_some_pct"] == 0.0 for entry in timeline[1:])


async def test_sampler_without_pressure_information_reports_none(tmp_path: Path) -> None:
    sampler = PressureSampler(every=0.05, directory=tmp_path)
    sampler.start()
    await asyncio.sleep(0.06)
    assert sampler.stop() is None
