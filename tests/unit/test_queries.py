"""The SQL loader and the contract between sql/queries/*.sql and the store modules: every block
is bound by a store module constant, and every ``Q["..."]`` used in service/ has a block."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from wirepost.store.queries import Q, load_queries, sql_dir

SERVICE = Path(__file__).resolve().parents[2] / "service"
STORE = SERVICE / "store"
_USE = re.compile(r"""\bQ\[\s*["']([^"']+)["']\s*\]""")
_BINDING = re.compile(r"""^(_[A-Z][A-Z0-9_]*)\s*=\s*Q\[\s*["']([^"']+)["']\s*\]\s*$""", re.M)
# The one table-less query file and the module that owns it.
_MODULE_OF_FILE = {"migrations": "migrate"}


def uses_in(folder: Path) -> dict[str, list[str]]:
    """Every Q["key"] in the Python files under ``folder``: key → files using it."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        for key in _USE.findall(path.read_text()):
            found.setdefault(key, []).append(str(path.relative_to(SERVICE)))
    return found


def store_bindings() -> dict[str, tuple[str, str]]:
    """Every module-level ``_CONST = Q["key"]`` in service/store: key → (module stem, const)."""
    bound: dict[str, tuple[str, str]] = {}
    for path in sorted(STORE.glob("*.py")):
        for const, key in _BINDING.findall(path.read_text()):
            assert key not in bound, f"{key} is bound twice ({bound[key][0]}, {path.stem})"
            bound[key] = (path.stem, const)
    return bound


def test_the_sql_folder_is_found_and_holds_blocks():
    assert (sql_dir() / "queries").is_dir()
    assert len(Q) >= 20
    for key, text in Q.items():
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+", key), key
        assert text.strip(), f"{key} is empty"


def test_every_sql_block_is_bound_by_a_store_module_constant():
    unbound = sorted(set(Q) - set(store_bindings()))
    assert unbound == [], f"SQL blocks no store module binds: {unbound}"


def test_every_q_key_used_in_service_has_a_sql_block():
    missing = {key: files for key, files in uses_in(SERVICE).items() if key not in Q}
    assert missing == {}, f"Q[...] keys without a block in sql/queries: {missing}"


def test_only_store_modules_use_q():
    outside = {
        key: [f for f in files if not f.startswith("store/")]
        for key, files in uses_in(SERVICE).items()
    }
    assert {k: v for k, v in outside.items() if v} == {}


def test_store_bindings_follow_the_file_module_and_name_chain():
    for key, (module, const) in store_bindings().items():
        stem, name = key.split(".")
        assert module == _MODULE_OF_FILE.get(stem, stem), f"{key} is bound in {module}.py"
        assert const == "_" + name.upper(), f"{key} is bound to {const}"


def test_load_queries_splits_named_blocks(tmp_path):
    (tmp_path / "things.sql").write_text(
        "-- name: first\n-- Purpose.\nSELECT 1;\n\n--name:second\nSELECT $1;\n"
    )
    (tmp_path / "ignored.txt").write_text("-- name: nope\nSELECT 0;")
    assert load_queries(tmp_path) == {
        "things.first": "-- Purpose.\nSELECT 1;",
        "things.second": "SELECT $1;",
    }


def test_load_queries_refuses_a_duplicate_block(tmp_path):
    (tmp_path / "things.sql").write_text("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;\n")
    with pytest.raises(ValueError, match=r"things\.a"):
        load_queries(tmp_path)


def test_the_checks_can_fail(tmp_path):
    """The regexes see real bindings (a broken pattern would make the tests above vacuous)."""
    bindings = store_bindings()
    assert bindings["deliveries.claim_due"] == ("deliveries", "_CLAIM_DUE")
    assert "messages.insert_many" in uses_in(SERVICE)
    assert _USE.findall('x = Q["a.b"]; y = Q[ "c.d" ]') == ["a.b", "c.d"]
