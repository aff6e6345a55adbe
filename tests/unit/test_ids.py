"""Message ids: fixed width, time-sortable, unique; random bytes never shared across a fork."""

from __future__ import annotations

import os
import time

from wirepost import entropy
from wirepost.domain import new_id


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
