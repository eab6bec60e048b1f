"""store.sqlite_writer: one writer thread, group commit, one savepoint per write."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import anyio
import pytest

from activitylog.store.sqlite_writer import SQLiteWriter

DEADLINE = 10.0


class Translated(Exception):
    """A sqlite3 error, as the writer's translate function returned it."""


def translate(exc: sqlite3.Error) -> Exception:
    return Translated(f"translated: {exc}")


class Gate:
    """A write that holds the writer thread until opened, so that others queue behind it."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.opened = threading.Event()

    def __call__(self, connection: sqlite3.Connection) -> str:
        self.entered.set()
        self.opened.wait(DEADLINE)
        return "gate"

    async def wait_entered(self) -> None:
        assert await anyio.to_thread.run_sync(self.entered.wait, DEADLINE)


class Harness:
    def __init__(self, path: str) -> None:
        self.path = path
        self.statements: list[str] = []
        self.gates: list[Gate] = []
        self.writer = SQLiteWriter(self._connect, translate)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=0.05
        )
        connection.set_trace_callback(self.statements.append)
        return connection

    async def hold(self) -> Gate:
        """Occupy the writer thread; queue writes, then open the gate to run them as a batch."""
        gate = Gate()
        self.gates.append(gate)
        self.held = self.writer.write(gate)
        await gate.wait_entered()
        return gate

    def commits(self) -> int:
        return self.statements.count("COMMIT")

    def names(self) -> list[str]:
        with sqlite3.connect(self.path) as connection:
            rows = connection.execute("SELECT name FROM items ORDER BY id").fetchall()
        connection.close()
        return [name for (name,) in rows]


@pytest.fixture
async def harness(tmp_path: Path) -> AsyncIterator[Harness]:
    path = str(tmp_path / "writer.db")
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode = WAL")
    setup.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)")
    setup.commit()
    setup.close()
    running = Harness(path)
    running.writer.start()
    yield running
    for gate in running.gates:
        gate.opened.set()
    await anyio.to_thread.run_sync(running.writer.stop)


def insert(name: str) -> Callable[[sqlite3.Connection], int]:
    def run(connection: sqlite3.Connection) -> int:
        row = connection.execute(
            "INSERT INTO items (name) VALUES (?) RETURNING id", (name,)
        ).fetchone()
        return int(row[0])

    return run


def insert_then_fail(name: str) -> Callable[[sqlite3.Connection], int]:
    def run(connection: sqlite3.Connection) -> int:
        insert(name)(connection)
        raise ValueError(f"{name} changed its mind")

    return run


@pytest.mark.anyio
async def test_a_write_returns_its_function_result_once_committed(harness: Harness) -> None:
    with anyio.fail_after(DEADLINE):
        first = await harness.writer.write(insert("a"))
        second = await harness.writer.write(insert("b"))
    assert second == first + 1
    assert harness.names() == ["a", "b"]


@pytest.mark.anyio
async def test_many_concurrent_writes_are_all_answered(harness: Harness) -> None:
    ids: dict[str, int] = {}

    async def write(name: str) -> None:
        ids[name] = await harness.writer.write(insert(name))

    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group:
            for index in range(300):
                group.start_soon(write, f"item{index}")
    assert len(set(ids.values())) == 300
    assert sorted(harness.names()) == sorted(ids)


@pytest.mark.anyio
async def test_writes_queued_during_a_transaction_commit_together(harness: Harness) -> None:
    with anyio.fail_after(DEADLINE):
        gate = await harness.hold()
        queued = [harness.writer.write(insert(f"item{index}")) for index in range(40)]
        commits_before = harness.commits()
        gate.opened.set()
        assert await harness.held == "gate"
        ids = [await future for future in queued]
    assert ids == sorted(ids)
    assert len(harness.names()) == 40
    # The gate's own batch, then all forty in one more transaction.
    assert harness.commits() - commits_before == 2


@pytest.mark.anyio
async def test_a_failing_write_rolls_back_alone(harness: Harness) -> None:
    with anyio.fail_after(DEADLINE):
        gate = await harness.hold()
        first = harness.writer.write(insert("a"))
        python_error = harness.writer.write(insert_then_fail("b"))
        sqlite_error = harness.writer.write(insert("a"))  # the name is UNIQUE
        last = harness.writer.write(insert("c"))
        commits_before = harness.commits()
        gate.opened.set()
        await harness.held
        assert await first > 0
        with pytest.raises(ValueError, match="b changed its mind"):
            await python_error
        with pytest.raises(Translated, match="UNIQUE constraint failed"):
            await sqlite_error
        assert await last > 0
    assert harness.commits() - commits_before == 2  # still one batch: the gate's, then ours
    assert harness.names() == ["a", "c"]


@pytest.mark.anyio
async def test_a_batch_that_cannot_begin_fails_its_writes_and_the_writer_goes_on(
    harness: Harness,
) -> None:
    # Another connection holds the write lock, so the writer's BEGIN IMMEDIATE times out.
    other = sqlite3.connect(harness.path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        with anyio.fail_after(DEADLINE):
            queued = [harness.writer.write(insert(name)) for name in ("a", "b")]
            for future in queued:
                with pytest.raises(Translated, match="locked"):
                    await future
    finally:
        other.execute("ROLLBACK")
        other.close()
    with anyio.fail_after(DEADLINE):
        await harness.writer.write(insert("c"))
    assert harness.names() == ["c"]


@pytest.mark.anyio
async def test_cancelling_the_waiting_task_does_not_break_the_writer(harness: Harness) -> None:
    with anyio.fail_after(DEADLINE):
        gate = await harness.hold()
        with anyio.CancelScope() as scope:
            abandoned = harness.writer.write(insert("abandoned"))
            scope.cancel()
            await abandoned
        assert scope.cancelled_caught
        assert abandoned.cancelled()
        gate.opened.set()
        await harness.held
        assert await harness.writer.write(insert("next")) > 0
    # Cancelling the wait does not undo the write: it was already queued.
    assert harness.names() == ["abandoned", "next"]


@pytest.mark.anyio
async def test_stop_finishes_the_queued_writes_first(harness: Harness) -> None:
    with anyio.fail_after(DEADLINE):
        gate = await harness.hold()
        queued = [harness.writer.write(insert(name)) for name in ("a", "b", "c")]
        async with anyio.create_task_group() as group:
            group.start_soon(anyio.to_thread.run_sync, harness.writer.stop)
            gate.opened.set()
            assert [await future for future in queued] == [1, 2, 3]
    assert harness.names() == ["a", "b", "c"]
