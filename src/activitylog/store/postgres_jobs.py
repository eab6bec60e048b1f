"""The PostgreSQL store's job transactions: submit, finish, rescue, cancel and release.

Each function runs inside a transaction its caller opened. Where two writers may race for one
job (a cancellation and the job's end, say), the job's row is locked first (FOR UPDATE), so
that they take turns and the second sees what the first did.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from activitylog import errors
from activitylog.domain import instances
from activitylog.domain.dates import now_ms
from activitylog.domain.jobs import (
    ENDED_MESSAGE,
    IDEMPOTENCY_WINDOW_MS,
    SUBMITTED_MESSAGE,
    JobStatus,
    cancel_requested_message,
    cancelled_message,
    closing_messages_when_cancelled,
    plan_rescue,
)
from activitylog.store.idempotency import earlier_submission
from activitylog.store.postgres_listener import NOTIFY_JOB_CHANGED
from activitylog.store.postgres_statements import (
    execute,
    fetch_row,
    fetch_rows,
    fetch_value,
    insert_messages,
)
from activitylog.store.records import (
    ClaimedJob,
    JobView,
    OperationRequest,
    RescuedJob,
    SubmittedJob,
    job_view_with_messages,
)

LIVE_INSTANCE_NAME = "service_instances_live_name"
"""The unique index that keeps one live instance per name."""

# -- submitting ------------------------------------------------------------------------------


async def submit(c: Any, request: OperationRequest, now: int) -> SubmittedJob:
    """A new NEW job; or, for an Idempotency-Key already used, the job it created.

    A request racing another with the same key waits on the other's uncommitted key row (the
    primary key), then finds it committed, with its job: both answer with one job.
    """
    idempotency = request.idempotency
    if idempotency is None:
        return await _submit_new(c, request, now)
    key = {"domain_id": request.domain_id, "idempotency_key": idempotency.key}
    claimed = await fetch_row(
        c,
        "claim_idempotency_key",
        **key,
        fingerprint=idempotency.fingerprint,
        now=now,
        expired_before=now - IDEMPOTENCY_WINDOW_MS,
    )
    if claimed is None:
        earlier = await fetch_row(c, "find_idempotency_key", **key)
        return earlier_submission(earlier, idempotency)
    submitted = await _submit_new(c, request, now)
    await execute(c, "set_idempotency_job", **key, job_id=submitted.job_id)
    return submitted


def instance_exists(request: OperationRequest) -> errors.InstanceExists:
    return errors.InstanceExists(
        f"Service [{request.service_name}] already exists in identity domain "
        f"[{request.identity_domain}]."
    )


async def _submit_new(c: Any, request: OperationRequest, now: int) -> SubmittedJob:
    row = await fetch_row(
        c,
        "lock_live_instance",
        domain_id=request.domain_id,
        service_type=request.service_type,
        name=request.service_name,
    )
    if request.operation_type == instances.OperationType.CREATE_SERVICE:
        if row is not None:
            raise instance_exists(request)
        previous = instances.InstanceState.CREATING
        # A concurrent create of the same name waits here on the unique index, then fails.
        service_id = await fetch_value(
            c,
            "insert_instance",
            domain_id=request.domain_id,
            service_type=request.service_type,
            name=request.service_name,
            description=request.description,
            state=previous,
            parameters=json.dumps(request.parameters),
            created_by=request.auth_user,
            now=now,
        )
    else:
        if row is None:
            raise errors.InstanceNotFound(
                f"No {request.service_type} service [{request.service_name}] in identity domain "
                f"[{request.identity_domain}]."
            )
        service_id, previous = row[0], instances.InstanceState(row[5])
        await _refuse_if_in_flight(c, service_id, request.service_name)
        state = instances.state_on_submit(request.operation_type, previous, request.service_name)
        await execute(c, "set_instance_state", state=state, now=now, service_id=service_id)
    log_id = await fetch_value(c, "next_activity_log_id")
    job_id = await fetch_value(
        c,
        "insert_job",
        activity_log_id=log_id,
        domain_id=request.domain_id,
        identity_domain=request.identity_domain,
        service_id=service_id,
        service_name=request.service_name,
        service_type=request.service_type,
        operation_type=request.operation_type,
        auth_domain=request.auth_domain,
        auth_user=request.auth_user,
        initiated_by=request.initiated_by,
        parameters=json.dumps(request.parameters),
        previous_instance_state=previous,
        max_attempts=request.max_attempts,
        backoff_ms=request.backoff_ms,
        now=now,
    )
    await insert_messages(c, job_id, 1, [SUBMITTED_MESSAGE], now)
    return SubmittedJob(job_id, log_id, service_id)


async def _refuse_if_in_flight(c: Any, service_id: int, service_name: str) -> None:
    in_flight = await fetch_value(c, "job_in_flight", service_id=service_id)
    if in_flight is not None:
        raise errors.OperationInFlight(
            f"Service [{service_name}] has operation job [{in_flight}] in progress; "
            "wait for it to end, then retry."
        )


# -- ending, requeueing ----------------------------------------------------------------------


async def finish(c: Any, job: ClaimedJob, status: JobStatus, messages: list[str]) -> None:
    """The worker's end of its job; a cancellation recorded first makes it FAILED."""
    now = now_ms()
    fence = {"job_id": job.job_id, "token": job.lease_token, "now": now}
    held = await fetch_row(c, "lock_running_job", **fence)
    if held is None:
        raise errors.LeaseLost()
    if held[0] is not None:
        status, messages = JobStatus.FAILED, closing_messages_when_cancelled(messages, held[0])
    closing = [*messages, ENDED_MESSAGE]
    row = await fetch_row(c, "end_job", **fence, status=status, count=len(closing))
    await _apply_end(c, job.job_id, status, closing, now, row)


async def release(c: Any, job: ClaimedJob, reason: str) -> bool:
    """Hand a held job back for another attempt; True if it is NEW again (False: a
    cancellation was waiting, so it ended instead)."""
    now = now_ms()
    held = await fetch_row(c, "lock_running_job", job_id=job.job_id, token=job.lease_token, now=now)
    if held is None:
        raise errors.LeaseLost()
    if held[0] is not None:
        await _close(c, job.job_id, JobStatus.FAILED, [reason, cancelled_message(held[0])], now)
        return False
    # The attempt was handed back, not lost: it does not count against the policy's attempts.
    await _requeue(c, job.job_id, reason, now, now, extra_attempts=1)
    return True


async def rescue_expired(c: Any, now: int) -> list[RescuedJob]:
    """SKIP LOCKED: a job whose worker is finishing it right now is left to that worker."""
    rescued = []
    for job_id, attempt, max_attempts, backoff_ms, cancelled_by in await fetch_rows(
        c, "expired_leases", now=now
    ):
        plan = plan_rescue(attempt, max_attempts, backoff_ms, cancelled_by)
        if plan.status is JobStatus.NEW:
            await _requeue(c, job_id, plan.messages[0], now + plan.delay_ms, now, extra_attempts=0)
        else:
            await _close(c, job_id, plan.status, list(plan.messages), now)
        await c.execute(NOTIFY_JOB_CHANGED, str(job_id))
        rescued.append(RescuedJob(job_id, plan.status))
    return rescued


async def cancel(c: Any, domain_id: int, job_id: int, requested_by: str) -> JobView:
    """NEW ends FAILED at once; RUNNING records the request for its worker; else refuse."""
    row = await fetch_row(c, "lock_job_for_cancel", job_id=job_id, domain_id=domain_id)
    if row is None:
        raise errors.JobNotFound()
    status, already_requested_by = row
    now = now_ms()
    if status == JobStatus.NEW:
        await _close(c, job_id, JobStatus.FAILED, [cancelled_message(requested_by)], now)
    elif status != JobStatus.RUNNING:
        raise errors.JobAlreadyEnded(f"Job [{job_id}] already ended with status {status}.")
    elif already_requested_by is None:
        count = await fetch_value(
            c, "record_cancel_request", job_id=job_id, requested_by=requested_by
        )
        await insert_messages(c, job_id, count, [cancel_requested_message(requested_by)], now)
    view = job_view_with_messages(await fetch_row(c, "get_job", job_id=job_id, domain_id=domain_id))
    if view is None:  # pragma: no cover - the row was locked above
        raise errors.JobNotFound()
    return view


async def _close(c: Any, job_id: int, status: JobStatus, messages: list[str], now: int) -> None:
    closing = [*messages, ENDED_MESSAGE]
    row = await fetch_row(c, "close_job", job_id=job_id, status=status, now=now, count=len(closing))
    await _apply_end(c, job_id, status, closing, now, row)


async def _apply_end(
    c: Any, job_id: int, status: JobStatus, closing: list[str], now: int, row: Sequence[Any]
) -> None:
    """After the job row ended: its closing messages, and its instance's new state."""
    count, service_id, operation, previous, job_parameters = row
    await insert_messages(c, job_id, count - len(closing) + 1, closing, now)
    state = instances.state_on_end(operation, status, instances.InstanceState(previous))
    await execute(c, "set_instance_state", state=state, now=now, service_id=service_id)
    if status is not JobStatus.FAILED and operation == instances.OperationType.SCALE_SERVICE:
        current = json.loads(await fetch_value(c, "get_instance_parameters", service_id=service_id))
        merged = json.dumps({**current, **json.loads(job_parameters)})
        await execute(
            c, "set_instance_parameters", parameters=merged, now=now, service_id=service_id
        )


async def _requeue(
    c: Any, job_id: int, message: str, run_after: int, now: int, *, extra_attempts: int
) -> None:
    count = await fetch_value(
        c, "requeue_job", job_id=job_id, run_after=run_after, extra_attempts=extra_attempts
    )
    await insert_messages(c, job_id, count, [message], now)
