"""Telling other processes, after the fact, which jobs changed and that new jobs wait.

A NOTIFY inside a job's transaction would be exact, but PostgreSQL commits notifying
transactions one at a time, holding a database-wide lock through the commit's disk flush: with
a NOTIFY in every submission, claim and end, those commits could never share a flush, and that
lock capped the whole engine (about 2,000 commits a second on this kind of machine, whatever
the number of processes). So the hot writes commit without NOTIFY, and this announcer sends
what they changed afterwards, batched, in a transaction of its own that writes nothing durable
and so commits without waiting for the disk (``synchronous_commit`` off).

What that costs: a process that dies between a commit and its announcement leaves other
processes' waiters unwoken. Nothing is lost, only late: workers poll for new jobs anyway,
long-polls answer at their deadline, event streams re-read at their keep-alive, and a
listener that reconnects wakes every waiter. Rare writes (cancellation, rescue, release) still
notify inside their transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable

import structlog

from activitylog.store.changes import JobChange
from activitylog.store.postgres_listener import CHANNEL, JOB_CHANGED_CHANNEL, change_payload

log = structlog.get_logger("activitylog.store")

# A NOTIFY payload must stay under 8,000 bytes: changes go in chunks well below that.
_PAYLOAD_CHARS = 7_000


class ChangeAnnouncer:
    def __init__(self, run_script: Callable[[str], Awaitable[None]]) -> None:
        self._run_script = run_script
        self._changed: set[JobChange] = set()
        self._new_job = False
        self._pending = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        self._closing = False
        if self._task is None:
            self._task = asyncio.create_task(self._announce_forever(), name="activitylog-announce")

    def announce(self, changes: Iterable[JobChange], *, new_job: bool = False) -> None:
        self._changed.update(changes)
        self._new_job = self._new_job or new_job
        self._pending.set()

    async def close(self) -> None:
        """Send what is still pending (for a second at most), then stop."""
        task, self._task = self._task, None
        if task is None:
            return
        self._closing = True
        self._pending.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), 1.0)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _announce_forever(self) -> None:
        while True:
            await self._pending.wait()
            changed, self._changed = self._changed, set()
            new_job, self._new_job = self._new_job, False
            self._pending.clear()
            # While one announcement is on the wire, the next batch gathers.
            if changed or new_job:
                try:
                    await self._run_script(announcement(changed, new_job=new_job))
                except Exception as exc:  # the database is away: listeners reconnect later
                    log.warning("cannot announce job changes", error=repr(exc), jobs=len(changed))
            if self._closing and not self._pending.is_set():
                return


def announcement(changes: Iterable[JobChange], *, new_job: bool) -> str:
    """One script, one round trip. Only integers are formatted in: nothing to escape."""
    notifies = [
        f"SELECT pg_notify('{JOB_CHANGED_CHANNEL}', '{chunk}')" for chunk in _chunks(changes)
    ]
    if new_job:
        notifies.append(f"SELECT pg_notify('{CHANNEL}', '')")
    return ";".join(["BEGIN", "SET LOCAL synchronous_commit TO off", *notifies, "COMMIT"])


def _chunks(changes: Iterable[JobChange]) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for job_id, domain_id in sorted(changes, key=lambda change: change.job_id):
        text = change_payload(job_id, domain_id)
        if current and size + len(text) + 1 > _PAYLOAD_CHARS:
            chunks.append(",".join(current))
            current, size = [], 0
        current.append(text)
        size += len(text) + 1
    if current:
        chunks.append(",".join(current))
    return chunks
