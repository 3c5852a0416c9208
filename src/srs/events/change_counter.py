"""A count of write transactions in shared memory, read by every process on every request.

Every recommendation asks for the user's recent events, and almost every user has none. Reading
one mapped integer costs far less than asking SQLite, so a reader that finds the count unchanged
since it last looked knows nothing has been committed and can answer from memory.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

# Little-endian like the file on every host we run on, so struct uses its native 8-byte
# copy: the aligned word is read and written in one access and never seen half-updated.
_COUNTER = struct.Struct("<Q")


class ChangeCounter:
    """A shared count of write transactions that tells readers whether anything was committed.

    A seqlock: a writer holding the writer lock makes the value odd before it begins and even
    again once its transaction has ended, whether committed or rolled back, before its callers
    are answered. A reader that finds the same even value as before therefore knows that no
    commit has ended since. A writer that dies mid-way leaves the value odd, which readers
    treat as "ask SQLite"; the next writer steps over it (+2) so it stays odd until that
    writer ends. The file is only ever grown, never truncated: shrinking a mapped file would
    crash every process that reads it.

    Unlike the writer lock's descriptor, the mapping is kept by a forked child: a shared
    mapping stays shared with the file in both processes, and not asking for the process ID
    on every read saves a system call per request.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mapping: mmap.mmap | None = None

    def _map(self) -> mmap.mmap:
        if self._mapping is None:
            descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                if os.fstat(descriptor).st_size < _COUNTER.size:
                    os.ftruncate(descriptor, _COUNTER.size)  # new bytes are zeros
                self._mapping = mmap.mmap(descriptor, _COUNTER.size)
            finally:
                os.close(descriptor)  # the mapping keeps the file
        return self._mapping

    def value(self) -> int:
        return int(_COUNTER.unpack_from(self._map())[0])

    def begin(self) -> None:
        """Call holding the writer lock, before the transaction begins."""
        mapping = self._map()
        value = _COUNTER.unpack_from(mapping)[0]
        _COUNTER.pack_into(mapping, 0, value + 1 if value % 2 == 0 else value + 2)

    def end(self) -> None:
        """Call still holding the writer lock, once the transaction has ended either way."""
        mapping = self._map()
        _COUNTER.pack_into(mapping, 0, _COUNTER.unpack_from(mapping)[0] + 1)

    def close(self) -> None:
        if self._mapping is not None:
            self._mapping.close()
        self._mapping = None
