"""Upstash-Redact-Fields hides data from the API; deliveries keep the originals."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp.test_utils import TestClient

from tests.api.conftest import AUTH, raw_request
from wirepost.store import messages


async def test_redacted_body_and_header_show_as_hashes(api: TestClient[Any, Any], pool):
    headers = {
        **AUTH,
        "Upstash-Redact-Fields": "body, header[Secret]",
        "Upstash-Forward-Secret": "s3cret",
        "Upstash-Forward-Plain": "visible",
    }
    resp = await raw_request(
        api, "POST", "/v2/publish/http://127.0.0.1:9/r", headers=headers, data=b"card=4242"
    )
    message_id = (await resp.json())["messageId"]
    shown = await (await api.get(f"/v2/messages/{message_id}", headers=AUTH)).json()
    assert shown["body"] == "REDACTED:" + hashlib.sha256(b"card=4242").hexdigest()
    assert shown["header"]["Secret"] == ["REDACTED:" + hashlib.sha256(b"s3cret").hexdigest()]
    assert shown["header"]["Plain"] == ["visible"]
    events = await (await api.get(f"/v2/events?messageId={message_id}", headers=AUTH)).json()
    assert "4242" not in str(events)
    stored = await messages.find(pool, message_id)
    assert stored is not None
    assert stored.body == b"card=4242"  # what the destination receives


async def test_unknown_redact_field_is_rejected(api: TestClient[Any, Any]):
    resp = await raw_request(
        api,
        "POST",
        "/v2/publish/http://127.0.0.1:9/r",
        headers={**AUTH, "Upstash-Redact-Fields": "everything"},
        data=b"x",
    )
    assert resp.status == 400
    assert "Upstash-Redact-Fields" in (await resp.json())["error"]
