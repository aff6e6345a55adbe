"""The examples in docs/client.md run against a real server, so the page cannot drift from the
code: the quick start (blocking and async) and the publish and typing examples."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.conftest import TEST_TOKEN
from wirepost_client import Client

CLIENT_DOC = Path(__file__).resolve().parents[2] / "docs" / "client.md"


def python_blocks() -> list[str]:
    text = CLIENT_DOC.read_text(encoding="utf-8")
    return [part.split("```", 1)[0] for part in text.split("```python\n")[1:]]


def run_block(code: str, base_url: str, **names: object) -> None:
    code = code.replace('"http://127.0.0.1:8080"', repr(base_url)).replace(
        '"<token>"', repr(TEST_TOKEN)
    )
    exec(compile(code, str(CLIENT_DOC), "exec"), {"__name__": "docs_example", **names})  # noqa: S102


async def test_docs_quick_start_examples_run(server, pool):
    blocking, concurrent = python_blocks()[:2]

    await asyncio.to_thread(run_block, blocking, server)
    await asyncio.to_thread(run_block, concurrent, server)  # asyncio.run in its own thread

    assert await pool.fetchval("SELECT count(*) FROM messages") == 2


async def test_docs_publish_and_typing_examples_run(server, pool):
    wanted = ("from datetime import timedelta", "from wirepost_client import PublishOptions")
    blocks = [b for b in python_blocks() if b.startswith(wanted)]
    assert len(blocks) == 2

    with Client(server, TEST_TOKEN) as client:
        for block in blocks:
            await asyncio.to_thread(run_block, block, server, client=client)

    assert await pool.fetchval("SELECT count(*) FROM messages") == 2
