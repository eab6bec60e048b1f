"""Who rescues on PostgreSQL: the one process holding a session advisory lock, on a connection
of its own. When that process dies its session ends, the lock frees, and the next process to
try (every worker tries once per rescue interval) takes over.

One rescuer at a time is not needed for correctness (a rescue locks the rows it changes and
skips locked ones) but spares the database a scan per worker per interval.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from activitylog.store.postgres_driver import fetch

T = TypeVar("T")

# The key of the rescuer's advisory lock: "alrescue" in ASCII. Advisory locks are per database.
RESCUER_LOCK_KEY = 0x616C726573637565


class RescuerConnection:
    def __init__(self, connect: Callable[[], Awaitable[Any]]) -> None:
        self._connect = connect
        self._connection: Any = None
        self._holds_lock = False
        # One rescue at a time on the one connection (asyncpg refuses overlapping queries).
        self._turn = asyncio.Lock()

    @property
    def holds_lock(self) -> bool:
        return self._holds_lock

    async def run_if_leader(self, work: Callable[[Any], Awaitable[T]]) -> T | None:
        """Run ``work`` on the dedicated connection if this process is the rescuer; else None.

        A driver error drops the connection (and with it the lock): the caller translates it.
        """
        async with self._turn:
            try:
                connection = await self._leader_connection()
                return None if connection is None else await work(connection)
            except BaseException:
                self.drop()
                raise

    async def _leader_connection(self) -> Any:
        if self._connection is None or self._connection.is_closed():
            self.drop()
            self._connection = await self._connect()
        if not self._holds_lock:
            self._holds_lock = bool(
                await fetch(
                    self._connection, "try_rescuer_lock", "value", {"key": RESCUER_LOCK_KEY}
                )
            )
        return self._connection if self._holds_lock else None

    def drop(self) -> None:
        """Close the connection at once; the server frees the lock when the session ends."""
        connection, self._connection = self._connection, None
        self._holds_lock = False
        if connection is not None:
            connection.terminate()
