"""`python -m loadtest.run --postgres-setting NAME=VALUE`: parsed, refused where it cannot apply,
and applied to the embedded Postgres the run starts (a real one, started here)."""

from __future__ import annotations

import argparse
from pathlib import Path

import asyncpg
import pytest

from loadtest.machine import describe_machine
from loadtest.postgres import describe, start_embedded
from loadtest.run import _postgres_setting, parse_args


def test_a_setting_is_a_name_and_a_value() -> None:
    assert _postgres_setting("shared_buffers=2GB") == ("shared_buffers", "2GB")
    assert _postgres_setting(" Work_Mem = 8MB ") == ("work_mem", "8MB")
    assert _postgres_setting("pg_stat_statements.max=10000") == ("pg_stat_statements.max", "10000")


@pytest.mark.parametrize("text", ["shared_buffers", "shared_buffers=", "=2GB", "a b=1", "x;y=1"])
def test_what_is_not_name_equals_value_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        _postgres_setting(text)


def test_settings_need_the_embedded_postgres(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--postgres-setting", "shared_buffers=2GB", "--database-url", "postgres://x"])
    assert "configures the embedded Postgres" in capsys.readouterr().err
    args = parse_args(["--postgres-setting", "shared_buffers=2GB", "--postgres-setting", "a.b=c"])
    assert args.postgres_setting == [("shared_buffers", "2GB"), ("a.b", "c")]


async def test_the_embedded_postgres_runs_with_the_settings_and_says_so() -> None:
    server = start_embedded([("shared_buffers", "48MB"), ("work_mem", "5MB")])
    try:
        await describe(server)
        connection = await asyncpg.connect(server.url)
        try:
            assert await connection.fetchval("SHOW shared_buffers") == "48MB"  # needs the restart
            assert await connection.fetchval("SHOW work_mem") == "5MB"
        finally:
            await connection.close()
        assert server.has_pg_stat_statements
        postgres = (await describe_machine(server))["postgres"]
        assert postgres.endswith("with pg_stat_statements, shared_buffers = 48MB, work_mem = 5MB")
    finally:
        server.close()


def test_a_value_postgres_refuses_stops_the_run_and_leaves_nothing_behind() -> None:
    tmp = Path("/tmp")  # noqa: S108 (where start_embedded puts its data directories)
    before = set(tmp.glob("wirepost-loadtest-pg-*"))
    with pytest.raises(ValueError, match="refused a --postgres-setting"):
        start_embedded([("shared_buffers", "lots")])
    assert set(tmp.glob("wirepost-loadtest-pg-*")) == before
    with pytest.raises(ValueError, match="not a Postgres setting's name"):
        start_embedded([("shared_buffers; DROP", "1")])
