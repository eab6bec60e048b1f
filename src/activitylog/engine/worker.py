"""The worker: claims NEW jobs oldest first and runs each one's handler in a slot of its own."""

from __future__ import annotations

import asyncio
import os
import socket
import time

import structlog

from activitylog import errors, metrics
from activitylog.domain.jobs import JobStatus
from activitylog.engine.handlers import Handler, JobContext, ServiceTypeRegistry
from activitylog.store.base import Store
from activitylog.store.records import ClaimedJob

log = structlog.get_logger("activitylog.worker")

_CLAIM_RETRY_SECONDS = 1.0


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


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
        name: str | None = None,
    ) -> None:
        self._store = store
        self._registry = registry
        self._slots = asyncio.Semaphore(concurrency)
        self._lease_seconds = lease_seconds
        self._heartbeat_seconds = heartbeat_seconds
        self._poll_interval = poll_interval
        self.name = name or default_worker_name()
        self._running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        """Claim and run jobs until cancelled."""
        log.info("worker started", worker=self.name)
        try:
            while True:
                await self._slots.acquire()
                job = await self._claim()
                if job is None:
                    self._slots.release()
                    await self._store.wait_for_new_jobs(self._poll_interval)
                    continue
                metrics.JOBS_CLAIMED.inc()
                task = asyncio.create_task(self._run_job(job), name=f"job-{job.job_id}")
                self._running.add(task)
                task.add_done_callback(self._job_done)
        finally:
            for task in self._running:
                task.cancel()
            await asyncio.gather(*self._running, return_exceptions=True)

    def _job_done(self, task: asyncio.Task[None]) -> None:
        self._running.discard(task)
        self._slots.release()

    async def _claim(self) -> ClaimedJob | None:
        try:
            return await self._store.claim_next_job(self.name, self._lease_seconds)
        except errors.StoreUnavailable as exc:
            log.warning("cannot claim jobs", error=str(exc))
            await asyncio.sleep(_CLAIM_RETRY_SECONDS)
            return None

    async def _run_job(self, job: ClaimedJob) -> None:
        log.info(
            "job started",
            job_id=job.job_id,
            operation=job.operation_type,
            service=job.service_name,
            attempt=job.attempt,
        )
        started = time.monotonic()
        context = JobContext(self._store, job)
        heartbeat = asyncio.create_task(self._keep_lease(job))
        try:
            service_type = self._registry.get(job.service_type)
            handler = service_type.handler_for(job.operation_type)
            await run_handler(handler, context, service_type.policy_for(job.operation_type).timeout)
            status, closing = context.final_status, context.closing_messages
        except errors.LeaseLost:
            log.warning("job lease lost; another attempt owns it now", job_id=job.job_id)
            return
        except Exception as exc:
            log.exception("job failed", job_id=job.job_id)
            status, closing = JobStatus.FAILED, [failure_message(job, exc)]
        finally:
            heartbeat.cancel()
        # Shielded: a worker being cancelled still records the outcome it already has.
        try:
            await asyncio.shield(self._store.finish_job(job, status, closing))
        except errors.LeaseLost:
            # The outcome was refused, so this worker did not end the job: count nothing.
            log.warning("job lease lost before its end was recorded", job_id=job.job_id)
            return
        metrics.JOBS_ENDED.labels(status=str(status)).inc()
        metrics.JOB_DURATION.observe(time.monotonic() - started)
        log.info("job ended", job_id=job.job_id, status=str(status))

    async def _keep_lease(self, job: ClaimedJob) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_seconds)
            try:
                await self._store.renew_lease(job, self._lease_seconds)
            except errors.StoreUnavailable as exc:
                log.warning("cannot renew lease", job_id=job.job_id, error=str(exc))
            except errors.LeaseLost:
                log.warning("lease lost", job_id=job.job_id)
                return


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
