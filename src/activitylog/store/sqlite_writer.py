"""The single SQLite writer thread: every write runs there, inside ``BEGIN IMMEDIATE``.

Writes queued while a transaction runs are committed together (group commit): each runs in
its own savepoint, so one failing write rolls back alone, and every caller is answered only
after the COMMIT that makes its write durable.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
WriteFunction = Callable[[sqlite3.Connection], Any]
_MAX_BATCH = 64


class _Request:
    __slots__ = ("function", "future", "loop")

    def __init__(
        self, function: WriteFunction, future: asyncio.Future[Any], loop: asyncio.AbstractEventLoop
    ) -> None:
        self.function = function
        self.future = future
        self.loop = loop


class SQLiteWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        translate: Callable[[sqlite3.Error], Exception],
    ) -> None:
        self._connect = connect
        self._translate = translate
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="activitylog-sqlite-writer")
        self._started = False

    def start(self) -> None:
        self._thread.start()
        self._started = True

    def stop(self) -> None:
        """Finish the queued writes, then end the thread."""
        if self._started:
            self._queue.put(None)
            self._thread.join()
            self._started = False

    def write(self, function: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Request(function, future, loop))
        return future

    def _run(self) -> None:
        connection = self._connect()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch, stop = self._drain(first)
                self._run_batch(connection, batch)
                if stop:
                    return
        finally:
            connection.close()

    def _drain(self, first: _Request) -> tuple[list[_Request], bool]:
        batch = [first]
        while len(batch) < _MAX_BATCH:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            if request is None:
                return batch, True
            batch.append(request)
        return batch, False

    def _run_batch(self, connection: sqlite3.Connection, batch: list[_Request]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            connection.execute("BEGIN IMMEDIATE")
            outcomes = [self._run_one(connection, request) for request in batch]
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            failure = self._translate(exc)
            outcomes = [(False, failure)] * len(batch)
        for request, (ok, value) in zip(batch, outcomes, strict=True):
            request.loop.call_soon_threadsafe(_settle, request.future, ok, value)

    def _run_one(self, connection: sqlite3.Connection, request: _Request) -> tuple[bool, Any]:
        connection.execute("SAVEPOINT write")
        try:
            result = request.function(connection)
        except Exception as exc:
            if isinstance(exc, sqlite3.Error) and not connection.in_transaction:
                # SQLite rolled back the whole transaction itself (a full disk, an I/O error):
                # the batch fails, with this cause rather than "no such savepoint".
                raise
            connection.execute("ROLLBACK TO write")
            connection.execute("RELEASE write")
            if isinstance(exc, sqlite3.Error):
                return False, self._translate(exc)
            return False, exc
        connection.execute("RELEASE write")
        return True, result


def _settle(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.cancelled():
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)
