"""Which build is installed: the pure Python one, or the compiled one (setup.py,
WIREPOST_COMPILE=1). CI runs part of the suite against the compiled build with
WIREPOST_EXPECT_COMPILED=1, so a build that silently fell back to source fails there."""

from __future__ import annotations

import importlib
import os
import runpy
from pathlib import Path

import pytest

from wirepost import build
from wirepost.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]


def test_setup_compiles_the_modules_build_lists() -> None:
    listed = runpy.run_path(str(ROOT / "service" / "build.py"))["COMPILED_MODULES"]
    assert listed == build.COMPILED_MODULES
    for name in listed:  # each names a module that exists under the name setup.py gives it
        relative = Path(*name.split(".")[1:]).with_suffix(".py")
        assert (ROOT / "service" / relative).is_file(), name
        assert importlib.import_module(name).__name__ == name


def test_describe_matches_the_modules_loaded() -> None:
    compiled = build.compiled_modules()
    if not compiled:
        assert build.describe() == "pure Python"
    elif compiled == list(build.COMPILED_MODULES):
        assert build.describe() == "delivery path compiled with mypyc"
    else:
        assert build.describe().startswith("partly compiled")


def test_version_names_the_build(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--version"])
    assert capsys.readouterr().out.strip().endswith(f"({build.describe()})")


@pytest.mark.skipif(
    os.environ.get("WIREPOST_EXPECT_COMPILED") != "1",
    reason="the compiled build is checked where WIREPOST_EXPECT_COMPILED=1 (CI's compiled stage)",
)
def test_expected_compiled_build_is_compiled() -> None:
    assert build.compiled_modules() == list(build.COMPILED_MODULES)
