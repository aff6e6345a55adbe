"""What a batch of outcomes asks of the recorder (wirepost.delivery.loop.batch_needs; pure)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.factories import make_message
from wirepost.delivery.loop import batch_needs
from wirepost.domain import Claimed, Delivered, Outcome, Response

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _batch(*overrides: dict[str, Any]) -> list[tuple[Claimed, Outcome]]:
    return [
        (Claimed(make_message(NOW, **fields), 1, 0), Delivered(Response(200)))
        for fields in overrides
    ]


def test_plain_deliveries_need_neither_callbacks_nor_gates() -> None:
    assert batch_needs(_batch({}, {}, {})) == (False, False)
    assert batch_needs([]) == (False, False)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"callback": "https://example.com/cb"}, (True, False)),
        ({"failure_callback": "https://example.com/fail"}, (True, False)),
        ({"queue_name": "orders"}, (False, True)),
        ({"flow_control_key": "tenant-1"}, (False, True)),
        ({"callback": "https://example.com/cb", "queue_name": "orders"}, (True, True)),
    ],
)
def test_one_message_anywhere_in_the_batch_decides(
    fields: dict[str, Any], expected: tuple[bool, bool]
) -> None:
    assert batch_needs(_batch({}, fields, {})) == expected
    assert batch_needs(_batch(fields, {}, {})) == expected
    assert batch_needs(_batch({}, {}, fields)) == expected


def test_callbacks_and_gates_in_different_messages_are_both_seen() -> None:
    batch = _batch({"flow_control_key": "tenant-1"}, {}, {"failure_callback": "https://x.io/f"})
    assert batch_needs(batch) == (True, True)
