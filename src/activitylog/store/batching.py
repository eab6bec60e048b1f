"""Calls that arrive together, written together: group commit for a store's hot writes.

The first call goes at once; calls that arrive while its write is on the wire wait for it and
then go together, in one write. A lone call is never delayed, and a busy process's calls share
round trips, statements and commits. Each caller gets its own item's result back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

I = TypeVar("I")  # noqa: E741 - the item, beside R, the result
R = TypeVar("R")


class Batched(Generic[I, R]):
    def __init__(self, write: Callable[[list[I]], Awaitable[list[R]]], *, limit: int) -> None:
        """``write`` takes the items waiting (at most ``limit``) and gives one result per item,
        in order; what it raises, every caller of that batch raises."""
        self._write = write
        self._limit = limit
        self._waiting: list[tuple[I, asyncio.Future[R]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def __call__(self, item: I) -> R:
        done: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_waiting(), name="activitylog-batch")
        # Shielded: a caller that gives up must not cancel the write the others share.
        return await asyncio.shield(done)

    async def _write_waiting(self) -> None:
        batch: list[tuple[I, asyncio.Future[R]]] = []
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[: self._limit], self._waiting[self._limit :]
                try:
                    results = await self._write([item for item, _ in batch])
                except Exception as exc:
                    for _, done in batch:
                        _settle(done, exc)
                    continue
                for (_, done), result in zip(batch, results, strict=True):
                    _settle(done, result)
        except BaseException as exc:
            # Cancelled with the process (or a result count gone wrong): nobody may wait
            # forever.
            for _, done in [*batch, *self._waiting]:
                _settle(done, exc)
            self._waiting = []
            raise
        finally:
            self._writer = None


def _settle(done: asyncio.Future[R], outcome: R | BaseException) -> None:
    if done.done():
        return
    if isinstance(outcome, BaseException):
        done.set_exception(outcome)
    else:
        done.set_result(outcome)
