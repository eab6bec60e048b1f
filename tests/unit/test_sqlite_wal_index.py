"""The WAL-index header as a snapshot token: it moves with every commit, from any connection,
and nothing else moves it; what it cannot read, it leaves to PRAGMA data_version."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from activitylog.store.sqlite import SQLiteStore
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


@pytest.mark.anyio
async def test_without_an_index_the_store_falls_back_to_data_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(WalIndexWatch, "open", classmethod(lambda cls, path: None))
    store = SQLiteStore(str(tmp_path / "fallback.db"))
    await store.open()
    try:
        token = store.snapshot_token()
        assert token is not None
        assert store.snapshot_token() == token
        other = connect(tmp_path / "fallback.db")
        try:
            other.execute("CREATE TABLE elsewhere (x INTEGER)")
        finally:
            other.close()
        assert store.snapshot_token() != token
    finally:
        await store.close()
