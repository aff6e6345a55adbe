"""Domain values: Message.evolve copies as dataclasses.replace does; a claimed row as a Message."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.factories import make_message
from wirepost.domain import MESSAGE_FIELDS, Message, message_from_fields
from wirepost.store import messages

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


def test_from_columns_reads_each_field_from_its_own_position():
    """The claim's row holds Message's fields in MESSAGE_FIELDS order, then the fence and the
    retry count; each field comes from its own column (labels and redact become tuples)."""
    values = {name: f"{name}-value" for name in MESSAGE_FIELDS}
    values["labels"] = ("a", "b")
    values["redact"] = ("body",)
    row = [list(v) if name in ("labels", "redact") else v for name, v in values.items()]
    message = messages.from_columns([*row, 3, 1])
    assert {name: getattr(message, name) for name in MESSAGE_FIELDS} == values
    assert messages.from_columns([*row[:23], None, *row[24:]]).redact is None


def test_message_from_fields_gives_what_the_frozen_init_gives():
    values = vars(make_message(NOW, labels=("a",), queue_name="q"))
    built = message_from_fields(dict(values))
    assert built == Message(**values)
    assert repr(built) == repr(Message(**values))
    with pytest.raises(AttributeError):
        built.url = "https://example.com/other"  # type: ignore[misc]
