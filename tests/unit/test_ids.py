"""Message ids: fixed width, time-sortable, unique; random bytes never shared across a fork."""

from __future__ import annotations

import os
import time

import pytest

from wirepost import entropy
from wirepost.domain import new_id

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def test_ids_are_fixed_width_and_unique():
    ids = [new_id("msg_") for _ in range(20_000)]
    assert len(set(ids)) == len(ids)
    assert {len(i) for i in ids} == {len("msg_") + 27}


def test_ids_made_milliseconds_apart_sort_by_creation_time():
    ids = []
    for _ in range(20):
        ids.append(new_id("msg_"))
        time.sleep(0.002)
    assert ids == sorted(ids)


@pytest.mark.parametrize("length", [27, 22, 21])
def test_an_id_is_its_milliseconds_in_eight_base58_digits_then_random_digits(length: int):
    before_ms = time.time_ns() // 1_000_000
    digits = new_id("msg_", length)[len("msg_") :]
    after_ms = time.time_ns() // 1_000_000

    millisecond = 0
    for digit in digits[:8]:
        millisecond = millisecond * 58 + BASE58.index(digit)
    assert len(digits) == length
    assert set(digits) <= set(BASE58)
    assert before_ms <= millisecond <= after_ms


def test_random_digits_use_the_whole_alphabet():
    seen = set()
    for _ in range(2_000):
        seen.update(new_id("msg_")[len("msg_") + 8 :])
    assert seen == set(BASE58)


def test_a_forked_child_does_not_reuse_the_parents_random_bytes():
    entropy._pool.take(8)  # the parent holds a filled buffer when it forks
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        os.write(write_end, entropy._pool.take(32))
        os._exit(0)
    os.close(write_end)
    child = os.read(read_end, 32)
    os.close(read_end)
    os.waitpid(pid, 0)
    assert len(child) == 32
    assert child != entropy._pool.take(32)
