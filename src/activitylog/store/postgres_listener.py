"""Wake-ups on PostgreSQL: one dedicated connection LISTENs for new jobs (waking idle
workers) and for job changes (feeding long-polls and event streams in this process).

The connection is opened on the first wait, re-opened by itself whenever it drops, and checked
now and then so that a silently dead socket is noticed. While it is down, waiters simply sleep
out their timeout: the caller's poll is the slow fallback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from activitylog.store.changes import JobChange

log = structlog.get_logger("activitylog.store")

CHANNEL = "activitylog_new_job"
JOB_CHANGED_CHANNEL = "activitylog_job_changed"
JOB_CANCELLED_CHANNEL = "activitylog_job_cancelled"
EVERY_JOB = 0
"""The job id passed to ``on_job_changed`` when changes may have been missed: wake every
waiter."""


class NewJobListener:
    def __init__(
        self,
        connect: Callable[[], Awaitable[Any]],
        *,
        on_job_changed: Callable[[JobChange], None] | None = None,
        on_job_cancelled: Callable[[JobChange], None] | None = None,
        retry_seconds: float = 1.0,
        check_seconds: float = 15.0,
        check_timeout: float = 5.0,
    ) -> None:
        self._connect = connect
        self._on_job_changed = on_job_changed
        self._on_job_cancelled = on_job_cancelled
        self._retry_seconds = retry_seconds
        self._check_seconds = check_seconds
        self._check_timeout = check_timeout
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        """Set while the LISTEN connection is up and subscribed."""

    def wake(self) -> None:
        """Wake this process's waiters now (a submission made here needs no round trip)."""
        self._wakeup.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="activitylog-listen")

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)
        self._wakeup.clear()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen_once()
            except Exception as exc:  # whatever broke it, listen again
                log.warning("new-job listener lost its connection", error=repr(exc))
            await asyncio.sleep(self._retry_seconds)

    async def _listen_once(self) -> None:
        connection = await self._connect()
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _connection: lost.set())
            await connection.add_listener(CHANNEL, self._notified)
            await connection.add_listener(JOB_CHANGED_CHANNEL, self._job_changed)
            await connection.add_listener(JOB_CANCELLED_CHANNEL, self._job_cancelled)
            self.listening.set()
            # Jobs submitted while nobody listened would otherwise wait for the slow poll, and
            # changes made meanwhile would reach their waiters only at their timeouts.
            self._wakeup.set()
            for on_job in (self._on_job_changed, self._on_job_cancelled):
                if on_job is not None:
                    on_job(JobChange(EVERY_JOB, None))
            while not lost.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lost.wait(), self._check_seconds)
                if not lost.is_set():
                    # A peer that vanished without closing the socket shows up only here.
                    await connection.execute("SELECT 1", timeout=self._check_timeout)
        finally:
            self.listening.clear()
            connection.terminate()

    def _notified(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        self._wakeup.set()

    def _job_changed(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        _tell_each_job(self._on_job_changed, payload)

    def _job_cancelled(self, connection: Any, pid: int, channel: str, payload: str) -> None:
        _tell_each_job(self._on_job_cancelled, payload)


def change_payload(job_id: int, domain_id: int | None) -> str:
    """A change as a NOTIFY payload holds it: ``<domain id>:<job id>``, so that a listening
    process wakes only that domain's streams; a bare job id (what processes sent before changes
    carried their domain) still wakes every domain's."""
    return str(int(job_id)) if domain_id is None else f"{int(domain_id)}:{int(job_id)}"


def parse_change_payload(payload: str) -> list[JobChange]:
    """A payload holds one change, or several separated by commas (the announcer's batches)."""
    changes = []
    for change in payload.split(","):
        domain_id, colon, job_id = change.rpartition(":")
        if job_id.isdigit() and (domain_id.isdigit() or not colon):
            changes.append(JobChange(int(job_id), int(domain_id) if domain_id else None))
    return changes


def _tell_each_job(on_job: Callable[[JobChange], None] | None, payload: str) -> None:
    if on_job is not None:
        for change in parse_change_payload(payload):
            on_job(change)
