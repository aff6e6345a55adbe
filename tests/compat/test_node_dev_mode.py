"""An app written for QStash's local development mode works against ``wirepost dev`` unchanged:
started with ``QSTASH_DEV=1`` (and ``QSTASH_DEV_PORT``, so the test never takes port 8080) and no
token, base URL or keys, the Node SDK checks ``GET /v2/keys`` for the public development key
pair, adopts the server instead of downloading QStash's binary, publishes and reads back; its
``Receiver`` in dev mode accepts the signed delivery."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from qstash import Receiver

from tests.compat.node_scripts import node_env, node_missing, run_node
from tests.e2e.wirepost_process import WirepostProcess, free_port

pytestmark = [pytest.mark.compat, pytest.mark.skipif(bool(node_missing()), reason=node_missing())]

# QStash's documented local-development user 1 (QSTASH_API.md §14).
DEV_CURRENT_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r"
DEV_NEXT_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs"


def stop_leftover_postgres(data_dir: Path) -> None:
    """If a failed run left the embedded Postgres up, shut it down (fast mode)."""
    pid_file = data_dir / "postmaster.pid"
    if pid_file.exists():
        with contextlib.suppress(ValueError, ProcessLookupError, IndexError):
            os.kill(int(pid_file.read_text().split()[0]), signal.SIGINT)


@pytest.fixture
def wirepost_dev(tmp_path: Path) -> Iterator[WirepostProcess]:
    """``wirepost dev`` on a free port with its embedded Postgres in a fresh /tmp folder."""
    folder = Path(tempfile.mkdtemp(prefix="wirepost-compat-dev-", dir="/tmp"))
    data_dir = folder / "postgres"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WIREPOST_")}
    env["PYTHONUNBUFFERED"] = "1"
    dev = WirepostProcess(
        ["dev", "--port", str(port), "--data-dir", str(data_dir), "--poll-interval", "0.2s"],
        env,
        port,
        tmp_path / "dev.log",
    )
    try:
        dev.start()
        asyncio.run(dev.wait_healthy(timeout=60))
        yield dev
    finally:
        if dev.running():
            dev.stop(signal.SIGINT)
        stop_leftover_postgres(data_dir)
        shutil.rmtree(folder, ignore_errors=True)


def test_node_app_in_qstash_dev_mode_uses_wirepost_dev_unchanged(wirepost_dev, sink, unique):
    tag = unique("dev")
    env = node_env(QSTASH_DEV="1", QSTASH_DEV_PORT=str(wirepost_dev.port))

    out = run_node("dev_app.mjs", {"sink": sink.base, "tag": tag}, env)

    url = sink.url(f"/{tag}/dev")
    assert out["published"]["url"] == url
    assert out["message"]["messageId"] == out["published"]["messageId"]
    assert out["logs"]["logs"]
    [got] = sink.wait_for(lambda r: r.path == f"/{tag}/dev")
    assert got.headers["Upstash-Message-Id"] == out["published"]["messageId"]
    signature, body = got.headers["Upstash-Signature"], got.body.decode()
    verified = run_node("verify.mjs", {"signature": signature, "body": body, "url": url}, env)
    assert verified == {"verified": True}
    Receiver(DEV_CURRENT_KEY, DEV_NEXT_KEY).verify(signature=signature, body=body, url=url)
    not_dev = node_env(
        QSTASH_CURRENT_SIGNING_KEY="sig_" + "x" * 28, QSTASH_NEXT_SIGNING_KEY="sig_" + "y" * 28
    )
    refused = run_node("verify.mjs", {"signature": signature, "body": body, "url": url}, not_dev)
    assert refused["verified"] is False
