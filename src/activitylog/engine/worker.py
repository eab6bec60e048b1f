"""The worker: claims NEW jobs oldest first and runs each one's handler in a slot of its own.

Beside each handler it keeps the job's lease and listens for a cancellation; beside the claim
loop it runs the rescuer. ``stop(grace)`` shuts it down gently: no more claims, running
handlers get ``grace`` seconds, then are cancelled and their jobs released for another worker.
"""

from __future__ import annotations

import asyncio
import functools
import math
import os
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog

from activitylog import errors, metrics
from activitylog.domain.dates import now_ms
from activitylog.domain.jobs import RELEASED_MESSAGE, JobStatus
from activitylog.engine.handlers import Handler, JobContext, ServiceTypeRegistry
from activitylog.engine.job_run import JobRun, StopReason
from activitylog.engine.rescuer import rescue_forever
from activitylog.settings import Settings
from activitylog.store.base import Store
from activitylog.store.records import ClaimedJob

log = structlog.get_logger("activitylog.worker")

T = TypeVar("T")
Outcome = tuple[JobStatus, list[str]]
# How long a stopping worker keeps retrying its jobs' last writes while the database is down,
# past its shutdown grace.
_STOPPING_WRITE_SECONDS = 2.0


class Slots:
    """How many more handlers may run. A claim takes every free slot at once, so that a worker
    with several free slots fills them with one transaction instead of one per job."""

    def __init__(self, count: int) -> None:
        self.free = count
        self._freed = asyncio.Event()

    async def take_all(self) -> int:
        """Wait for at least one free slot; take them all."""
        while self.free == 0:
            self._freed.clear()
            await self._freed.wait()
        taken, self.free = self.free, 0
        return taken

    def give_back(self, count: int) -> None:
        self.free += count
        if count:
            self._freed.set()


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_for(settings: Settings, store: Store, registry: ServiceTypeRegistry) -> Worker:
    """The worker the settings describe (for `serve` and `worker` alike)."""
    return Worker(
        store,
        registry,
        concurrency=settings.concurrency,
        lease_seconds=settings.lease_seconds,
        heartbeat_seconds=settings.heartbeat_seconds,
        poll_interval=settings.poll_interval,
        rescue_interval=settings.rescue_interval,
        cancel_grace=settings.cancel_grace,
    )


class Worker:
    def __init__(
        self,
        store: Store,
        registry: ServiceTypeRegistry,
        *,
        concurrency: int = 4,
        lease_seconds: float = 30.0,
        heartbeat_seconds: float = 10.0,
        poll_interval: float = 1.0,
        rescue_interval: float = 5.0,
        cancel_grace: float = 10.0,
        name: str | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        # The types this worker can run, asked for in every claim; the registry never changes.
        self._service_types = registry.names()
        self._slots = Slots(concurrency)
        self._lease_seconds = lease_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._poll_interval = poll_interval
        self._rescue_interval = rescue_interval
        self._cancel_grace = cancel_grace
        self.name = name or default_worker_name()
        self._runs: dict[asyncio.Task[None], JobRun] = {}
        self._claim_in_flight: asyncio.Future[list[ClaimedJob]] | None = None
        self._handing_back: set[asyncio.Task[bool | None]] = set()
        self._stop_requested = asyncio.Event()
        self._grace = 0.0
        self._writes_give_up_at = math.inf

    def stop(self, grace: float) -> None:
        """Make ``run`` return: no more claims; running handlers get ``grace`` seconds."""
        self._grace = grace
        self._stop_requested.set()

    async def run(self) -> None:
        """Claim and run jobs until ``stop`` (gently) or cancellation (at once)."""
        log.info("worker started", worker=self.name)
        # Every line its tasks log (claims, jobs, rescues) names this worker: they copy the
        # context they are created in.
        with structlog.contextvars.bound_contextvars(worker_id=self.name):
            claiming = asyncio.create_task(self._claim_forever(), name="activitylog-claim")
            rescuing = asyncio.create_task(
                rescue_forever(self._store, self._rescue_interval, self._live_leases),
                name="activitylog-rescue",
            )
        stopping = asyncio.create_task(self._stop_requested.wait())
        try:
            await asyncio.wait([claiming, stopping], return_when=asyncio.FIRST_COMPLETED)
            claiming.cancel()
            await asyncio.wait([claiming])
            if not claiming.cancelled():
                claiming.result()  # the claim loop failed: raise why
            if self._runs:
                log.info("worker stopping; waiting for running jobs", grace=self._grace)
                await asyncio.wait(self._runs, timeout=self._grace)
        finally:
            for task in (claiming, rescuing, stopping):
                task.cancel()
            await self._stop_jobs()
            log.info("worker stopped", worker=self.name)

    # -- claiming ------------------------------------------------------------------------

    async def _claim_forever(self) -> None:
        while True:
            free = await self._slots.take_all()
            jobs = await self._claim(free)
            self._slots.give_back(free - len(jobs))
            for job in jobs:
                self._start(job)
            if not jobs:
                await self._store.wait_for_new_jobs(self._poll_interval)

    async def _claim(self, limit: int) -> list[ClaimedJob]:
        claim = asyncio.ensure_future(
            self._store.claim_jobs(self.name, self._lease_seconds, limit, self._service_types)
        )
        self._claim_in_flight = claim
        try:
            return await asyncio.shield(claim)
        except asyncio.CancelledError:
            # Claims that commit as the worker stops must not strand their jobs until the
            # lease expires: hand them straight back.
            claim.add_done_callback(self._hand_back)
            raise
        except errors.StoreUnavailable as exc:
            log.warning("cannot claim jobs", error=str(exc))
            await asyncio.sleep(self._poll_interval)  # as after finding nothing to claim
            return []

    def _hand_back(self, claim: asyncio.Future[list[ClaimedJob]]) -> None:
        if claim.cancelled() or claim.exception() is not None:
            return
        for job in claim.result():
            task = asyncio.create_task(
                self._write_final(job, functools.partial(self._release, job))
            )
            self._handing_back.add(task)
            task.add_done_callback(self._handing_back.discard)

    # -- running a job -------------------------------------------------------------------

    def _start(self, job: ClaimedJob) -> None:
        metrics.JOBS_CLAIMED.inc()
        metrics.JOB_STARTS.labels(job.service_type, job.operation_type).inc()
        if job.run_after is not None:
            waited = max(0, now_ms() - job.run_after) / 1000
            metrics.JOB_WAIT_SECONDS.labels(job.service_type).observe(waited)
        metrics.LEASES_HELD.inc()
        log.info(
            "job started",
            job_id=job.job_id,
            operation=job.operation_type,
            service=job.service_name,
            attempt=job.attempt,
        )
        context = JobContext(self._store, job)
        # The job's tasks (its handler, its lease keeper) log with its id.
        with structlog.contextvars.bound_contextvars(job_id=job.job_id):
            run = JobRun(job, context, self._call_handler(job, context))
            task = asyncio.create_task(self._see_through(run), name=f"job-{job.job_id}")
        self._runs[task] = run
        task.add_done_callback(self._job_done)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        metrics.LEASES_HELD.dec()
        self._runs.pop(task, None)
        self._slots.give_back(1)

    async def _call_handler(self, job: ClaimedJob, context: JobContext) -> None:
        service_type = self._registry.get(job.service_type)
        handler = service_type.handler_for(job.operation_type)
        await run_handler(handler, context, service_type.policy_for(job.operation_type).timeout)

    async def _see_through(self, run: JobRun) -> None:
        """Wait for the handler while keeping its lease, then record what became of the job."""
        started = time.monotonic()
        keeper = asyncio.create_task(
            run.keep(
                self._store,
                lease_seconds=self._lease_seconds,
                heartbeat_seconds=self._heartbeat_seconds,
                cancel_grace=self._cancel_grace,
            )
        )
        try:
            await asyncio.wait([run.task])
            if run.stop_reason is StopReason.SHUTDOWN and not _returned(run.task):
                if await self._write_final(run.job, lambda: self._release(run.job)):
                    metrics.JOBS_RELEASED.inc()
                return
            outcome = self._outcome(run)
            if outcome is None:
                return
            recorded = await self._write_final(
                run.job, lambda: self._store.finish_job(run.job, *outcome)
            )
            if recorded is not None:
                self._ended(run.job, recorded, outcome[0], time.monotonic() - started)
        finally:
            keeper.cancel()

    def _ended(
        self, job: ClaimedJob, recorded: JobStatus, handler_status: JobStatus, seconds: float
    ) -> None:
        """Log and count the status the store recorded: a cancellation recorded first makes
        a job FAILED whatever its handler's outcome was."""
        metrics.JOBS_ENDED.labels(status=str(recorded)).inc()
        metrics.JOB_DURATION.observe(seconds)
        metrics.JOB_ENDS.labels(job.service_type, job.operation_type, str(recorded)).inc()
        metrics.JOB_DURATION_SECONDS.labels(job.service_type, job.operation_type).observe(seconds)
        if recorded is handler_status:
            log.info("job ended", job_id=job.job_id, status=str(recorded))
        else:
            log.info(
                "job ended",
                job_id=job.job_id,
                status=str(recorded),
                handler_status=str(handler_status),
            )

    def _outcome(self, run: JobRun) -> Outcome | None:
        """How the job ends, from how its handler's task ended; None: not ours to end."""
        job, task = run.job, run.task
        if run.stop_reason is StopReason.LEASE_LOST or _raised(task, errors.LeaseLost):
            log.warning("job lease lost; another attempt owns it now", job_id=job.job_id)
            return None
        if run.stop_reason is StopReason.CANCELLED and task.cancelled():
            return JobStatus.FAILED, []  # the store adds who cancelled it
        if task.cancelled():
            return JobStatus.FAILED, [failure_message(job, asyncio.CancelledError())]
        exc = task.exception()
        if isinstance(exc, errors.OperationFailed):
            # An operation failing is an outcome, not a fault of ours: one line, no traceback.
            log.warning("job failed", job_id=job.job_id, reason=exc.message, **exc.log_fields)
            return JobStatus.FAILED, [failure_message(job, exc)]
        if exc is not None:
            log.error("job failed", job_id=job.job_id, exc_info=exc)
            return JobStatus.FAILED, [failure_message(job, exc)]
        return run.context.final_status, run.context.closing_messages

    async def _release(self, job: ClaimedJob) -> bool:
        log.warning("job released for retry: the worker is shutting down", job_id=job.job_id)
        await self._store.release_job(job, RELEASED_MESSAGE)
        return True

    async def _write_final(self, job: ClaimedJob, write: Callable[[], Awaitable[T]]) -> T | None:
        """The job's last write, shielded from cancellation and retried while the database
        refuses it (down, or its disk full), however long that lasts: the keeper renews the
        lease meanwhile, the rescuer leaves it alone (``_live_leases``), and an expired lease
        is still this worker's until someone else takes the job. Only a worker stopping gives
        up, once its grace is over; the rescuer then deals with the job. Returns the write's
        answer; None when the write was refused (LeaseLost) or given up."""
        loop = asyncio.get_running_loop()
        delay = 0.05
        while True:
            try:
                written = await asyncio.shield(asyncio.ensure_future(write()))
            except errors.LeaseLost:
                # Refused: the job ended meanwhile, or another attempt owns it now.
                log.warning("job lease lost before its end was recorded", job_id=job.job_id)
                return None
            except errors.StoreUnavailable as exc:
                gave_up = loop.time() > self._writes_give_up_at
                log.warning(
                    "cannot record the job's end" + ("; giving up" if gave_up else " yet"),
                    job_id=job.job_id,
                    error=str(exc),
                )
                if gave_up:
                    return None
            else:
                return written
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    def _live_leases(self) -> list[str]:
        """The leases of the jobs this worker is still seeing through, handlers running or
        ends being recorded: not lost, whatever their expiry says."""
        return [run.job.lease_token for run in self._runs.values()]

    # -- stopping ------------------------------------------------------------------------

    async def _stop_jobs(self) -> None:
        """Stop the handlers still running and wait until their jobs are released."""
        # A database that is gone as the worker stops is not waited for long: the rescuer
        # deals with the jobs once their leases expire.
        loop = asyncio.get_running_loop()
        self._writes_give_up_at = loop.time() + _STOPPING_WRITE_SECONDS
        for run in self._runs.values():
            run.stop(StopReason.SHUTDOWN)
        # Cancelled again meanwhile, this gives up waiting; the jobs' last writes still go
        # on in the background, shielded.
        while pending := self._unfinished():
            await asyncio.wait(pending)

    def _unfinished(self) -> set[asyncio.Future[Any]]:
        waiting: set[asyncio.Future[Any]] = {*self._runs, *self._handing_back}
        if self._claim_in_flight is not None:
            waiting.add(self._claim_in_flight)
        return {future for future in waiting if not future.done()}


def _returned(task: asyncio.Task[None]) -> bool:
    return not task.cancelled() and task.exception() is None


def _raised(task: asyncio.Task[None], kind: type[BaseException]) -> bool:
    return not task.cancelled() and isinstance(task.exception(), kind)


async def run_handler(handler: Handler, context: JobContext, timeout: float | None) -> None:
    """Run the handler, cancelling it once it has run ``timeout`` seconds (None: no limit)."""
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            await handler(context)
    except TimeoutError:
        if not deadline.expired():
            raise  # the handler's own TimeoutError, not our deadline
        raise errors.OperationTimedOut(f"timed out after {timeout:g} s") from None


def failure_message(job: ClaimedJob, exc: BaseException) -> str:
    """One line saying what failed: no traceback, which belongs in the server log."""
    text = str(exc).strip()
    reason = text.splitlines()[0].rstrip() if text else type(exc).__name__
    return f"Operation {job.operation_type} on service [{job.service_name}] failed: {reason}"
