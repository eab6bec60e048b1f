"""The embedded store: one SQLite file in WAL mode.

Writes go to one writer thread (see sqlite_writer). Point reads run inline on the event
loop's own connection, which costs about 10 µs, far less than a hop to a thread; searches,
which can scan, run on a small reader pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sqlite3
import threading
from collections.abc import Sequence
from typing import TypeVar

from activitylog import errors
from activitylog.store import sqlite_driver
from activitylog.store.changes import JobChange, JobChanges
from activitylog.store.migrate import migrate_sqlite
from activitylog.store.operations import StoreOperations
from activitylog.store.sqlite_reader import SnapshotReader
from activitylog.store.sqlite_writer import SQLiteWriter
from activitylog.store.steps import SQLITE, Transaction

T = TypeVar("T")


class SQLiteStore(StoreOperations):
    dialect = SQLITE

    def __init__(
        self, path: str, *, synchronous: str = "FULL", watch_wal_index: bool = True
    ) -> None:
        self.path = path
        self._synchronous = synchronous
        self._watch_wal_index = watch_wal_index
        self._reader: SnapshotReader | None = None
        self._writer = SQLiteWriter(self._connect, translate_error)
        self._pool = concurrent.futures.ThreadPoolExecutor(2, "activitylog-sqlite-reader")
        self._pool_local = threading.local()
        self._new_job = asyncio.Event()
        # data_version counts per connection: tokens of earlier openings must never match.
        self._openings = 0
        self.changes = JobChanges()
        """Changes made by this process; other processes on the same file are not seen."""
        self.cancellations = JobChanges()
        """Cancellations asked in this process; a worker elsewhere learns at its next renewal."""

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA busy_timeout = 10000")
        connection.row_factory = sqlite3.Row
        return connection

    async def open(self) -> None:
        try:
            migrator = self._connect()
            try:
                migrate_sqlite(migrator)
            finally:
                migrator.close()
            self._reader = SnapshotReader.open(
                self._connect, self.path, watch_wal_index=self._watch_wal_index
            )
            self._openings += 1
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc
        # Fresh per opening, so that a store closed by one lifespan can be opened by the next.
        self._writer = SQLiteWriter(self._connect, translate_error)
        self._writer.start()
        await self._reader.check_watch(self._writer.write)
        self._pool = concurrent.futures.ThreadPoolExecutor(2, "activitylog-sqlite-reader")
        self._pool_local = threading.local()
        self.changes = JobChanges()
        self.cancellations = JobChanges()

    async def close(self) -> None:
        self.changes.close()
        self.cancellations.close()
        await asyncio.to_thread(self._writer.stop)
        self._pool.shutdown(wait=True)
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()

    # -- plumbing ------------------------------------------------------------------------

    async def _write(self, transaction: Transaction[T]) -> T:
        return await self._writer.write(lambda c: sqlite_driver.run(c, transaction))

    async def _read(self, transaction: Transaction[T]) -> T:
        """Inline on the event loop: one statement, which alone sees one snapshot (no BEGIN)."""
        reader = self._reader
        if reader is None:
            raise errors.StoreUnavailable("The store is not open.")
        try:
            return reader.run(transaction)
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc

    def snapshot_token(self) -> object | None:
        """Equal while nothing is committed to the file (SnapshotReader.token); the opening's
        number keeps a token of an earlier opening from ever matching."""
        reader = self._reader
        if reader is None:
            return None
        token = reader.token()
        return None if token is None else (self._openings, token)

    @property
    def watches_wal_index(self) -> bool:
        """Whether snapshot tokens come from the WAL-index header (else data_version)."""
        return self._reader is not None and self._reader.watches_wal_index

    async def _read_snapshot(self, transaction: Transaction[T]) -> T:
        """On the reader pool, between BEGIN and COMMIT: a search can scan for milliseconds."""

        def run() -> T:
            connection = getattr(self._pool_local, "connection", None)
            if connection is None:
                connection = self._pool_local.connection = self._connect()
            connection.execute("BEGIN")
            try:
                return sqlite_driver.run(connection, transaction)
            finally:
                connection.execute("COMMIT")

        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, run)
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc

    def _wake_workers(self) -> None:
        self._new_job.set()

    def _announce_elsewhere(self, changes: Sequence[JobChange], *, new_job: bool) -> None:
        """Nothing: other processes on the same file find new jobs at their next poll."""

    async def wait_for_new_jobs(self, timeout: float) -> None:
        # Only this process's submissions set the event; other processes on the same file
        # are found by the caller's next poll, after `timeout`.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._new_job.wait(), timeout)
        self._new_job.clear()


def translate_error(exc: sqlite3.Error) -> Exception:
    """Map a sqlite3 error to the most specific activitylog error."""
    text = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        if "jobs.service_id" in text:
            return errors.OperationInFlight()
        if "service_instances" in text:
            return errors.InstanceExists()
        if "identity_domains.name" in text:
            return errors.Conflict("That identity domain already exists.")
        if "users.domain_id, users.name" in text:
            return errors.Conflict("That user already exists in this identity domain.")
        if "api_tokens.user_id, api_tokens.name" in text:
            return errors.Conflict("That user already has an API token of that name.")
        return errors.Conflict(f"The change conflicts with stored data: {text}")
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return errors.StoreUnavailable("The database is busy; retry shortly.")
    return errors.StoreUnavailable(f"The database failed: {text}")
