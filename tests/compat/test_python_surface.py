"""The compatibility suite calls every public method of the installed Python SDK, through both
clients: read the SDK's surface, read the calls the ``test_python_*`` modules make
(``<something>sdk.<namespace>.<method>(...)``; ``AwaitableSdk`` runs each through ``QStash`` and
``AsyncQStash``), and compare. A new SDK release with a new call makes this fail until a test
uses it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from qstash import AsyncQStash, QStash

from tests.compat.sdk_surface import public_calls

pytestmark = pytest.mark.compat

HERE = Path(__file__).parent


def calls_in(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        holder = node.func.value
        if (
            isinstance(holder, ast.Attribute)
            and isinstance(holder.value, ast.Name)
            and holder.value.id.endswith("sdk")
        ):
            found.add(f"{holder.attr}.{node.func.attr}")
    return found


def test_python_sdk_surface_is_the_same_for_both_clients():
    assert public_calls(QStash("t")) == public_calls(AsyncQStash("t"))


def test_every_public_python_sdk_call_is_exercised():
    exercised: set[str] = set()
    for module in sorted(HERE.glob("test_python_*.py")):
        exercised |= calls_in(module.read_text())
    surface = public_calls(QStash("t"))
    assert surface - exercised == set(), "SDK calls no compat test makes"
    assert exercised - surface == set(), "calls that are not in the SDK's public surface"
