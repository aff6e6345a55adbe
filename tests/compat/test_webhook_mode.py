"""QStash's webhook mode with a plain HTTP client, as a third-party webhook sender uses it: the
token and every ``Upstash-*`` setting ride in the query string of the publish URL (lower-cased),
``Upstash-Header-Forward: true`` forwards the sender's own headers, and only the destination's
own query parameters reach the destination."""

from __future__ import annotations

import json
from urllib.parse import quote

import httpx
import pytest
from qstash.signing_key import SigningKey

from tests.compat.signatures import verify_delivery
from tests.e2e.wirepost_process import TOKEN

pytestmark = pytest.mark.compat


def test_webhook_query_parameters_configure_the_publish(wirepost, sink, unique):
    path, callback_path = "/" + unique("webhook"), "/" + unique("webhook-cb")
    callback = quote(sink.url(callback_path), safe="")
    config = (
        f"qstash_token={TOKEN}&upstash-retries=0&upstash-forward-x-source=query"
        f"&upstash-callback={callback}&upstash-callback-forward-x-cb=query"
    )
    with httpx.Client(base_url=wirepost.base_url) as http:
        keys = SigningKey(**http.get("/v2/keys", params={"qstash_token": TOKEN}).json())
        answer = http.post(
            f"/v2/publish/{sink.url(path)}?keep=1&{config}",
            content=b'{"event": "push"}',
            headers={
                "Content-Type": "application/json",
                "Upstash-Header-Forward": "true",
                "X-Github-Event": "push",
            },
        )
        assert answer.status_code == 201, answer.text
        published = answer.json()
        url = sink.url(path + "?keep=1")
        assert published["url"] == url

        [got] = sink.wait_for(lambda r: r.path == path)
        assert got.query == "keep=1"
        assert got.headers["X-Source"] == "query"
        assert got.headers["X-Github-Event"] == "push"
        assert got.headers["Content-Type"] == "application/json"
        assert "Upstash-Header-Forward" not in got.headers
        assert "Authorization" not in got.headers
        verify_delivery(got, keys, url)

        message = http.get(
            f"/v2/messages/{published['messageId']}", params={"qstash_token": TOKEN}
        ).json()
        assert message["maxRetries"] == 0
        assert message["callback"] == sink.url(callback_path)

    [reported] = sink.wait_for(lambda r: r.path == callback_path)
    assert reported.headers["X-Cb"] == "query"
    assert json.loads(reported.body)["sourceMessageId"] == published["messageId"]
    verify_delivery(reported, keys, sink.url(callback_path))
