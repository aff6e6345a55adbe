"""HTTP error answers become ``WirepostError(status, message)``; what no server would answer
(text errors, garbled bodies) is still a WirepostError, served here by a real HTTP receiver."""

from __future__ import annotations

import pytest

from tests.client.conftest import client_for
from tests.receiver import Reply
from wirepost_client import WirepostConnectionError, WirepostError


async def test_error_wrong_token_is_a_401_with_the_servers_message(mode, server):
    async with client_for(mode, server, token="not-the-token") as wp:
        with pytest.raises(WirepostError) as caught:
            await wp.queues.list()

    assert caught.value.status == 401
    assert caught.value.message == "invalid token: use one of the values of WIREPOST_TOKEN"
    assert str(caught.value) == f"401: {caught.value.message}"
    assert not isinstance(caught.value, WirepostConnectionError)


async def test_error_unknown_message_is_a_404(wp):
    with pytest.raises(WirepostError) as caught:
        await wp.messages.get("msg_nope")

    assert caught.value.status == 404
    assert "msg_nope" in caught.value.message


async def test_error_bad_option_is_a_400_naming_the_header(wp):
    with pytest.raises(WirepostError) as caught:
        await wp.publish("http://127.0.0.1:9/hook", "x", retries=1000)

    assert caught.value.status == 400
    assert "Upstash-Retries" in caught.value.message


async def test_error_a_text_error_body_becomes_the_message(mode, receiver):
    receiver.default = Reply(status=502, body=b"Bad Gateway from the proxy")
    async with client_for(mode, receiver.base) as wp:
        with pytest.raises(WirepostError) as caught:
            await wp.keys.get()

    assert (caught.value.status, caught.value.message) == (502, "Bad Gateway from the proxy")


async def test_error_a_success_that_is_not_the_expected_json_is_reported(mode, receiver):
    receiver.replies.extend([Reply(status=200, body=b"<html>"), Reply(200, b'{"current": 1}')])
    async with client_for(mode, receiver.base) as wp:
        with pytest.raises(WirepostError, match="answer is not JSON") as not_json:
            await wp.keys.get()
        with pytest.raises(WirepostError, match="unexpected answer to GET /v2/keys"):
            await wp.keys.get()

    assert not_json.value.status == 200
    assert [r.path for r in receiver.requests] == ["/v2/keys", "/v2/keys"]
    assert receiver.requests[0].headers["Authorization"].startswith("Bearer ")
