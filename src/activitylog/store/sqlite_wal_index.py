"""Whether anything was committed to a SQLite file, read from its WAL index without a query.

In WAL mode every connection to a file shares its wal-index, the ``-shm`` file that SQLite maps
into memory. It opens with a header that the committing connection rewrites at each commit (the
last frame, its checksum, the WAL's salts) and that every reader consults when it begins a
read: the same bytes mean that nothing was committed in between, by any connection of any
process. https://www.sqlite.org/walformat.html describes the layout for the unix VFS.

Why not ``PRAGMA data_version``: it is a statement, and Python's sqlite3 releases the GIL
around each step of one. On the job-status GET, asked on every poll of a running job, that
hand-off to the server's other threads cost more than the rest of the answer. Reading 48 bytes
holds the GIL throughout and costs a fraction of a microsecond.

The bytes are read where SQLite itself mapped the file in this process (found in
/proc/self/maps), never through a file descriptor of our own: closing any descriptor of a file
drops every POSIX lock the process holds on it, SQLite's included, and another process could
then rebuild the index under this one's feet. SQLite keeps that mapping while any connection
of the process has the file open, so a watch must be closed before the connection it was
opened with: sqlite_reader.SnapshotReader owns both and closes them in that order. Anything
else (another OS, another VFS, a WAL-index version this module does not know, an exclusive
locking mode that keeps the index on the heap) gives no watch, and the store asks
``PRAGMA data_version`` instead.
"""

from __future__ import annotations

import ctypes
import os
import struct

# WalIndexHdr: iVersion u32, unused u32, iChange u32, isInit u8, bigEndCksum u8, szPage u16,
# mxFrame u32, nPage u32, aFrameCksum u32[2], aSalt u32[2], aCksum u32[2]; native byte order.
# The first of its two copies is the one a commit writes last.
HEADER_BYTES = 48
_VERSION_AND_INIT = struct.Struct("=IIIB")
WAL_INDEX_VERSION = 3007000
_MAPS = "/proc/self/maps"


class WalIndexWatch:
    """The first copy of a WAL-index header, where SQLite mapped it in this process."""

    def __init__(self, address: int) -> None:
        self._address: int | None = address

    @classmethod
    def open(cls, database_path: str, *, maps: str = _MAPS) -> WalIndexWatch | None:
        """A watch on ``database_path``'s WAL index, or None when it cannot be found as such.
        A connection to the file must be open in WAL mode, having read from it."""
        address = _mapped_at(os.path.realpath(database_path) + "-shm", maps)
        if address is None:
            return None
        version, _, _, initialised = _VERSION_AND_INIT.unpack(
            ctypes.string_at(address, _VERSION_AND_INIT.size)
        )
        if version != WAL_INDEX_VERSION or initialised != 1:
            return None
        return cls(address)

    def header(self) -> bytes:
        """The header's bytes now: they change with every commit to the file."""
        if self._address is None:
            raise ValueError("the watch is closed")
        return ctypes.string_at(self._address, HEADER_BYTES)

    def close(self) -> None:
        self._address = None


def _mapped_at(shm_path: str, maps: str) -> int | None:
    """Where the first bytes of ``shm_path`` are mapped, shared and readable, in this process."""
    try:
        with open(maps, encoding="utf-8", errors="replace") as listing:
            for line in listing:
                # start-end perms offset device inode path (the path may hold spaces)
                fields = line.rstrip("\n").split(maxsplit=5)
                if len(fields) < 6 or fields[5] != shm_path:
                    continue
                span, perms, offset = fields[0], fields[1], fields[2]
                if int(offset, 16) == 0 and perms.startswith("r") and perms[3] == "s":
                    start, end = (int(bound, 16) for bound in span.split("-"))
                    return start if end - start >= HEADER_BYTES else None
    except OSError:
        return None  # no /proc here
    return None
