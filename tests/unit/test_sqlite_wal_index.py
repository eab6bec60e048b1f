"""The WAL-index header as a snapshot token: it moves with every commit, from any connection,
and nothing else moves it; what it cannot read, it leaves to PRAGMA data_version."""

from __future__ import annotations

import ctypes
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from activitylog.store.sqlite import SQLiteStore
from activitylog.store.sqlite_reader import SnapshotReader
from activitylog.store.sqlite_wal_index import HEADER_BYTES, WalIndexWatch


def connect(path: Path, journal_mode: str = "WAL") -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute(f"PRAGMA journal_mode = {journal_mode}")
    return connection


pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/maps"), reason="the watch reads /proc/self/maps (Linux)"
)


@pytest.fixture
def wal_database(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "wal.db"
    keeper = connect(path)  # one open connection keeps the index mapped
    keeper.execute("CREATE TABLE t (x INTEGER)")
    try:
        yield path
    finally:
        keeper.close()


@pytest.fixture
def watch(wal_database: Path) -> Iterator[WalIndexWatch]:
    """A watch on wal_database, closed before the connection that keeps the index mapped."""
    opened = WalIndexWatch.open(str(wal_database))
    assert opened is not None
    try:
        yield opened
    finally:
        opened.close()


def test_the_header_moves_with_each_commit_of_any_connection(
    wal_database: Path, watch: WalIndexWatch
) -> None:
    other = connect(wal_database)
    try:
        seen = [watch.header()]
        for value in range(3):
            other.execute("INSERT INTO t VALUES (?)", (value,))
            seen.append(watch.header())
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t VALUES (99)")
        uncommitted = watch.header()
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert len(set(seen)) == len(seen)
    assert all(len(header) == HEADER_BYTES for header in seen)
    assert uncommitted == seen[-1]


def test_reads_leave_the_header_alone(wal_database: Path, watch: WalIndexWatch) -> None:
    reader = connect(wal_database)
    try:
        before = watch.header()
        reader.execute("SELECT count(*) FROM t").fetchone()
        reader.execute("BEGIN")
        reader.execute("SELECT * FROM t").fetchall()
        reader.execute("COMMIT")
        assert watch.header() == before
    finally:
        reader.close()


def test_a_rollback_journal_has_no_index(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    connection = connect(path, journal_mode="DELETE")
    try:
        connection.execute("CREATE TABLE t (x INTEGER)")
        assert WalIndexWatch.open(str(path)) is None
    finally:
        connection.close()


def test_a_file_no_connection_of_this_process_has_open_has_no_watch(wal_database: Path) -> None:
    assert WalIndexWatch.open(str(wal_database.with_name("other.db"))) is None


@pytest.mark.parametrize(
    "listing",
    [
        None,  # no /proc
        "",
        # mapped, but not shared, or not from the start of the file
        "7f0000000000-7f0000008000 rw-p 00000000 fe:00 1 {shm}\n",
        "7f0000000000-7f0000008000 rw-s 00008000 fe:00 1 {shm}\n",
        # another file whose name starts the same
        "7f0000000000-7f0000008000 rw-s 00000000 fe:00 1 {shm}-old\n",
    ],
)
def test_a_listing_without_the_index_gives_no_watch(
    wal_database: Path, tmp_path: Path, listing: str | None
) -> None:
    maps = tmp_path / "maps"
    if listing is not None:
        shm = os.path.realpath(wal_database) + "-shm"
        maps.write_text(listing.format(shm=shm))
    assert WalIndexWatch.open(str(wal_database), maps=str(maps)) is None


def test_a_closed_watch_reads_nothing(watch: WalIndexWatch) -> None:
    watch.close()
    with pytest.raises(ValueError, match="closed"):
        watch.header()


def commit_elsewhere(path: Path) -> None:
    other = connect(path)
    try:
        other.execute("CREATE TABLE IF NOT EXISTS elsewhere (x INTEGER)")
        other.execute("INSERT INTO elsewhere VALUES (1)")
    finally:
        other.close()


async def assert_tokens_follow_commits(store: SQLiteStore, path: Path) -> None:
    token = store.snapshot_token()
    assert token is not None
    assert store.snapshot_token() == token
    commit_elsewhere(path)
    assert store.snapshot_token() != token


@pytest.mark.anyio
async def test_with_the_watch_turned_off_the_store_uses_data_version(tmp_path: Path) -> None:
    path = tmp_path / "off.db"
    store = SQLiteStore(str(path), watch_wal_index=False)
    await store.open()
    try:
        assert not store.watches_wal_index
        await assert_tokens_follow_commits(store, path)
    finally:
        await store.close()


@pytest.mark.anyio
async def test_the_store_watches_the_index_once_it_saw_a_commit_move_it(tmp_path: Path) -> None:
    path = tmp_path / "on.db"
    store = SQLiteStore(str(path))
    await store.open()
    try:
        assert store.watches_wal_index
        await assert_tokens_follow_commits(store, path)
    finally:
        await store.close()


class StillWatch(WalIndexWatch):
    """A watch whose bytes never move: what a misread layout would look like."""

    def __init__(self) -> None:
        self._buffer = ctypes.create_string_buffer(HEADER_BYTES)
        super().__init__(ctypes.addressof(self._buffer))


@pytest.mark.anyio
async def test_a_watch_that_misses_the_start_up_commit_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "still.db"
    store = SQLiteStore(str(path), watch_wal_index=False)
    await store.open()
    try:
        reader = store._reader
        assert reader is not None
        reader._watch = StillWatch()
        with structlog.testing.capture_logs() as logs:
            assert not await reader.check_watch(store._writer.write)
        assert not store.watches_wal_index
        assert "did not move" in logs[0]["event"]
        await assert_tokens_follow_commits(store, path)
    finally:
        await store.close()


def test_closing_the_reader_drops_the_watch_before_the_connection(wal_database: Path) -> None:
    def connect_to_it() -> sqlite3.Connection:
        return sqlite3.connect(wal_database, isolation_level=None)

    reader = SnapshotReader.open(connect_to_it, str(wal_database), watch_wal_index=True)
    watch = reader._watch
    assert watch is not None
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        watch.header()
    assert reader.token() is None
