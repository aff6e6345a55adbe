"""Runs the Node SDK scripts in ``tests/compat/node`` (``node <script> '<json input>'``) and
returns the JSON object each prints as its last line. Tests skip when ``node`` or the installed
``@upstash/qstash`` (``npm install`` in that folder, as ``.ci/run`` does) is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

NODE_DIR = Path(__file__).parent / "node"
SDK_DIR = NODE_DIR / "node_modules" / "@upstash" / "qstash"


def node_missing() -> str:
    """Why the Node tests cannot run here, or "" when they can."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not SDK_DIR.is_dir():
        return "@upstash/qstash is not installed (run npm install in tests/compat/node)"
    return ""


def skip_without_node() -> None:
    reason = node_missing()
    if reason:
        pytest.skip(reason)


def node_env(**variables: str) -> dict[str, str]:
    """The test's environment without any QSTASH_*/UPSTASH_* setting, plus ``variables``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("QSTASH_", "UPSTASH_", "NODE_"))
    }
    env.update(variables)
    return env


def run_node(script: str, payload: dict[str, Any], env: dict[str, str]) -> Any:
    skip_without_node()
    done = subprocess.run(
        ["node", script, json.dumps(payload)],
        cwd=NODE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"node {script} exited {done.returncode}:\n{done.stderr}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert lines, f"node {script} printed nothing; stderr:\n{done.stderr}"
    return json.loads(lines[-1])
