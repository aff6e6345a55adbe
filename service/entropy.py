"""Random bytes from the OS's CSPRNG, read 64 KiB at a time.

Every message id and every signature's token id needs a few random bytes; one ``getrandom``
system call for each cost a tenth of the CPU of a large ``/v2/batch`` and a few per cent of a
delivery. A forked child starts from an empty buffer, so processes never share random bytes.
"""

from __future__ import annotations

import os

_CHUNK = 65_536


class RandomBytes:
    def __init__(self) -> None:
        self._buffer = b""
        self._offset = 0
        os.register_at_fork(after_in_child=self.reset)

    def reset(self) -> None:
        self._buffer, self._offset = b"", 0

    def take(self, n: int) -> bytes:
        if self._offset + n > len(self._buffer):
            self._buffer, self._offset = os.urandom(max(n, _CHUNK)), 0
        start = self._offset
        self._offset += n
        return self._buffer[start : self._offset]


_pool = RandomBytes()


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the OS's CSPRNG (this process's buffer of them)."""
    return _pool.take(n)
