"""The store's credentials version, as this process last read it.

Every change that must end trust in a credential (a user's password, role or deletion, a
token's revocation) bumps one number in the store, in the change's own transaction, whichever
process or command (`activitylog user passwd` included) made it. Each API process reads it at
most every ``check_seconds`` and, when it moved, drops or re-checks what it trusts: so a change
made anywhere takes effect everywhere within that time, at the cost of one point read per
interval, not one per request.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable

from activitylog.store.base import Store


class CredentialsVersion:
    def __init__(
        self,
        store: Store,
        *,
        check_seconds: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._check_seconds = check_seconds
        self._clock = clock
        self.value: int | None = None
        """The version last read; None before the first read."""
        self._checked_at = -math.inf
        self._reading: asyncio.Future[None] | None = None
        self._on_change: list[Callable[[], None]] = []

    def on_change(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever a read finds the version moved."""
        self._on_change.append(callback)

    def due(self) -> bool:
        """Whether the version must be read again before anything trusted is used."""
        return self._clock() - self._checked_at >= self._check_seconds

    async def refresh(self) -> None:
        """Read the version if it is due; requests arriving together share one read."""
        if not self.due():
            return
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._read())
            self._reading.add_done_callback(self._read_done)
        await asyncio.shield(self._reading)

    def _read_done(self, done: asyncio.Future[None]) -> None:
        self._reading = None
        if not done.cancelled():
            done.exception()  # retrieved here, so a failure nobody awaited is not logged

    async def _read(self) -> None:
        started = self._clock()
        version = await self._store.credentials_version()
        if version != self.value:
            self.value = version
            for callback in self._on_change:
                callback()
        self._checked_at = started
