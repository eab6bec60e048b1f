"""The SQLite store's inline read connection, and how it tells that nothing was committed.

The job-status GET asks on every poll whether anything changed since its cached answer
(``SnapshotTokens``). The cheapest way to know is the WAL-index header (sqlite_wal_index), read
where SQLite mapped the ``-shm`` file for this process's connections; SQLite unmaps it when the
last of them closes, so reading it after that would read freed memory. This object owns both
the connection and the watch, and its ``close`` is the only way to close either: the watch is
dropped first, whatever the caller does.

The watch is trusted only after it has seen a commit: ``check_watch`` commits through the
store's writer and looks for the header to move. Where it does not (another VFS, a layout this
module misreads) or when the watch is turned off, tokens come from ``PRAGMA data_version``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import TypeVar

import structlog

from activitylog.store import sqlite_driver
from activitylog.store.sqlite_wal_index import WalIndexWatch
from activitylog.store.steps import Transaction

T = TypeVar("T")
log = structlog.get_logger("activitylog.store")

Write = Callable[[Callable[[sqlite3.Connection], None]], Awaitable[None]]


class SnapshotReader:
    def __init__(self, connection: sqlite3.Connection, watch: WalIndexWatch | None) -> None:
        self._connection: sqlite3.Connection | None = connection
        # Kept: a fresh cursor per token costs more than the token.
        self._token_cursor: sqlite3.Cursor | None = connection.cursor()
        self._watch = watch

    @classmethod
    def open(
        cls, connect: Callable[[], sqlite3.Connection], path: str, *, watch_wal_index: bool
    ) -> SnapshotReader:
        connection = connect()
        try:
            # The index is mapped once a connection of the process has read the file.
            connection.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            watch = WalIndexWatch.open(path) if watch_wal_index else None
        except BaseException:
            connection.close()
            raise
        return cls(connection, watch)

    @property
    def watches_wal_index(self) -> bool:
        return self._watch is not None

    async def check_watch(self, write: Write) -> bool:
        """Commit through ``write`` and keep the watch only if its header moved; else fall back
        to data_version (and say so). Returns whether the watch is kept."""
        watch = self._watch
        if watch is None:
            return False
        before = watch.header()
        await write(_rewrite_user_version)
        if watch.header() != before:
            return True
        log.warning(
            "the SQLite WAL index did not move with a commit; using PRAGMA data_version",
            hint="set ACTIVITYLOG_SQLITE_WAL_INDEX=false to skip this check",
        )
        self._drop_watch()
        return False

    def run(self, transaction: Transaction[T]) -> T:
        """A transaction of one read statement, inline: alone, it sees one snapshot."""
        if self._connection is None:
            raise sqlite3.ProgrammingError("the read connection is closed")
        return sqlite_driver.run(self._connection, transaction)

    def token(self) -> object | None:
        """Equal while nothing is committed to the file, by any connection of any process."""
        if self._watch is not None:
            return self._watch.header()
        cursor = self._token_cursor
        if cursor is None:
            return None
        try:
            # The reader never writes, so its data_version moves with every other commit.
            version: int = cursor.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            return None  # the read that follows reports the failure
        return version

    def close(self) -> None:
        self._drop_watch()  # first: the memory it reads goes with the last connection
        self._token_cursor = None
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _drop_watch(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()


def _rewrite_user_version(connection: sqlite3.Connection) -> None:
    """A commit that changes nothing stored: writing user_version, even its own value,
    rewrites the file's first page, and so the WAL index. activitylog never uses it."""
    version = int(connection.execute("PRAGMA user_version").fetchone()[0])
    connection.execute(f"PRAGMA user_version = {version}")
