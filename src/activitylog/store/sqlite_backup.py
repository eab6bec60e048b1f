"""Consistent copies of a SQLite database while it is served: SQLite's online backup API, a
few pages at a time, so that writers wait at most one step. `activitylog backup` and
`activitylog restore` (docs/operations.md); PostgreSQL has pg_dump and pg_basebackup."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

PAGES_PER_STEP = 1024
"""Pages copied per step (4 MiB at 4 KiB pages); between steps the database is free. A write
in between makes the copy start again on its own (SQLite's backup restarts), so the copy is
consistent as of its last step."""

Progress = Callable[[int, int], None]
"""Called after each step with (pages copied, pages in all)."""


class DatabaseInUse(Exception):
    """The database is open in another process (its -wal or -shm file exists)."""


def backup_sqlite(source: str, target: str, progress: Progress | None = None) -> None:
    """Copy ``source`` to ``target`` (written beside it, then renamed into place)."""
    partial = Path(f"{target}.partial")
    partial.unlink(missing_ok=True)  # left by a copy that was interrupted

    def step(status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress(total - remaining, total)

    with (
        _Closing(sqlite3.connect(source, timeout=30)) as origin,
        _Closing(sqlite3.connect(partial)) as copy,
    ):
        origin.backup(copy, pages=PAGES_PER_STEP, progress=step)
        # One file: the copy keeps no WAL of its own.
        copy.execute("PRAGMA journal_mode = DELETE")
    os.replace(partial, target)


def restore_sqlite(backup: str, target: str, progress: Progress | None = None) -> None:
    """Put ``backup`` in place of ``target``; refuse while ``target`` is open elsewhere."""
    if in_use(target):
        raise DatabaseInUse(target)
    integrity = check_integrity(backup)
    if integrity != "ok":
        raise sqlite3.DatabaseError(f"{backup} is damaged: {integrity}")
    backup_sqlite(backup, target, progress)


def in_use(path: str) -> bool:
    """Whether a process has the database open: SQLite in WAL mode keeps -wal and -shm files
    while any connection is open, and removes them when the last one closes cleanly. (After a
    crash they stay: open the database once, with `activitylog migrate --check`, to clear
    them.)"""
    return any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-shm"))


def check_integrity(path: str) -> str:
    with _Closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        rows = connection.execute("PRAGMA integrity_check").fetchall()
    return "; ".join(str(row[0]) for row in rows)


class _Closing:
    """sqlite3's own context manager commits but does not close."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def __enter__(self) -> sqlite3.Connection:
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.connection.close()
