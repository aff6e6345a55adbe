"""Domain values: Message.evolve copies as dataclasses.replace does."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.factories import make_message

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_evolve_gives_what_replace_gives_and_leaves_the_original_alone():
    message = make_message(NOW, labels=("a",), callback="https://example.com/cb")

    evolved = message.evolve(id="msg_other", url="https://example.com/b", queue_name="q")

    assert evolved == replace(message, id="msg_other", url="https://example.com/b", queue_name="q")
    assert (message.id, message.url, message.queue_name) != ("msg_other", evolved.url, "q")
    assert evolved.labels == ("a",)
    assert evolved.callback == "https://example.com/cb"


def test_evolve_refuses_a_name_that_is_not_a_field():
    with pytest.raises(TypeError, match="no field"):
        make_message(NOW).evolve(destination="https://example.com")


def test_an_evolved_message_is_still_frozen():
    evolved = make_message(NOW).evolve(id="msg_x")

    with pytest.raises(AttributeError):
        evolved.id = "msg_y"  # type: ignore[misc]
