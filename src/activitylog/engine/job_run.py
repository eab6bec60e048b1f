"""One claimed job while its handler runs: the handler's task, the lease kept alive beside it,
and how a cancellation, a lost lease or a shutdown stops it."""

from __future__ import annotations

import asyncio
import enum
import math
from collections.abc import Coroutine
from typing import Any

import structlog

from activitylog import errors
from activitylog.engine.handlers import JobContext
from activitylog.store.base import Store
from activitylog.store.changes import JobChanges, JobSubscription
from activitylog.store.records import ClaimedJob

log = structlog.get_logger("activitylog.worker")

# Told of a cancellation, the worker reads who asked; a burst of notices (a listener that
# reconnected wakes every job) costs one read per this many seconds, at most.
_CHECK_GAP_SECONDS = 0.2
# A renewal the database refused to answer is tried again this soon, not a heartbeat later.
_RENEW_RETRY_SECONDS = 1.0


class StopReason(enum.Enum):
    CANCELLED = "someone cancelled the job and the grace period ran out"
    SHUTDOWN = "the worker is shutting down"
    LEASE_LOST = "the job is no longer this worker's"


class JobRun:
    """A claimed job and its handler's task; ``stop_reason`` says why the worker stopped it."""

    def __init__(
        self,
        job: ClaimedJob,
        context: JobContext,
        handler: Coroutine[Any, Any, None],
    ) -> None:
        self.job = job
        self.context = context
        self.task = asyncio.create_task(handler, name=f"job-{job.job_id}-handler")
        self.stop_reason: StopReason | None = None
        self._cancel_deadline = math.inf

    def stop(self, reason: StopReason) -> None:
        """Cancel the handler's task (once); the reason decides what is then recorded."""
        if self.stop_reason is None and not self.task.done():
            self.stop_reason = reason
            self.task.cancel()

    async def keep(
        self, store: Store, *, lease_seconds: float, heartbeat_seconds: float, cancel_grace: float
    ) -> None:
        """Until cancelled (after the job's last write, which needs the lease too): renew the
        lease every heartbeat, and when told of a cancellation read who asked for it (the
        renewals tell too, for requests made where this process hears nothing: another
        process on a SQLite file)."""
        loop = asyncio.get_running_loop()
        # Cancellations only, not every change: the job's own writes must not wake the keeper.
        feed = store.cancellations
        with feed.subscribe(self.job.job_id) as changes:
            renew_at = loop.time() + heartbeat_seconds
            check_at, changed = 0.0, False
            while True:
                wake = min(renew_at, self._cancel_deadline, check_at if changed else math.inf)
                changed = await _changed(feed, changes, wake - loop.time()) or changed
                now = loop.time()
                if now >= self._cancel_deadline:
                    self._cancel_deadline = math.inf
                    self.stop(StopReason.CANCELLED)
                if now >= renew_at:
                    renew_at = now + heartbeat_seconds
                    asked = store.renew_lease(self.job, lease_seconds)
                elif changed and now >= check_at:
                    asked = store.cancel_request(self.job)
                else:
                    continue
                changed, check_at = False, now + _CHECK_GAP_SECONDS
                try:
                    # Shielded: the keeper is cancelled as soon as the job's end is written, and
                    # a query cancelled midway costs PostgreSQL a cancel request on a new
                    # connection; letting the read finish costs nothing.
                    self._learn(await asyncio.shield(_left_to_finish(asked)), cancel_grace)
                except errors.StoreUnavailable as exc:
                    log.warning("cannot reach the job", job_id=self.job.job_id, error=str(exc))
                    renew_at = min(renew_at, now + _RENEW_RETRY_SECONDS)
                except errors.LeaseLost:
                    # Rescued, or ended elsewhere: the handler's work is no longer wanted.
                    if not self.task.done():
                        log.warning("lease lost; stopping the handler", job_id=self.job.job_id)
                        self.stop(StopReason.LEASE_LOST)
                    return

    def _learn(self, requested_by: str | None, cancel_grace: float) -> None:
        if requested_by is None or self.context.cancel_requested.is_set():
            return
        log.info("job cancellation requested", job_id=self.job.job_id, by=requested_by)
        self.context.note_cancel_request(requested_by)
        self._cancel_deadline = asyncio.get_running_loop().time() + cancel_grace


def _left_to_finish(call: Coroutine[Any, Any, str | None]) -> asyncio.Task[str | None]:
    """The call as a task that may outlive its awaiter; its outcome is then dropped quietly."""
    task = asyncio.ensure_future(call)
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    return task


async def _changed(feed: JobChanges, changes: JobSubscription, timeout: float) -> bool:
    """Whether the job changed within ``timeout`` seconds (the feed may be closed already)."""
    if timeout <= 0:
        return False
    if feed.closed:  # on shutdown; subscriptions would then answer at once, forever
        await asyncio.sleep(timeout)
        return False
    return await changes.wait(timeout)
