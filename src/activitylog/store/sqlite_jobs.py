"""The SQLite store's job transactions: submit, finish, rescue, cancel and release.

Each function is the body of one transaction, run on the writer thread under BEGIN IMMEDIATE,
which already serialises it with every other write to the file: no row locks are needed.
"""

from __future__ import annotations

import json
import sqlite3
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
    storable_message,
)
from activitylog.store.idempotency import earlier_submission
from activitylog.store.queries import load_queries
from activitylog.store.records import (
    ClaimedJob,
    JobView,
    OperationRequest,
    RescuedJob,
    SubmittedJob,
    job_view_with_messages,
)

Q = load_queries("sqlite")


# -- submitting ------------------------------------------------------------------------------


def submit(c: sqlite3.Connection, request: OperationRequest, now: int) -> SubmittedJob:
    """A new NEW job; or, for an Idempotency-Key already used, the job it created."""
    idempotency = request.idempotency
    if idempotency is None:
        return _submit_new(c, request, now)
    key = {"domain_id": request.domain_id, "idempotency_key": idempotency.key}
    claim = {
        **key,
        "fingerprint": idempotency.fingerprint,
        "now": now,
        "expired_before": now - IDEMPOTENCY_WINDOW_MS,
    }
    if c.execute(Q["claim_idempotency_key"], claim).fetchone() is None:
        earlier = c.execute(Q["find_idempotency_key"], key).fetchone()
        return earlier_submission(earlier, idempotency)
    submitted = _submit_new(c, request, now)
    c.execute(Q["set_idempotency_job"], {**key, "job_id": submitted.job_id})
    return submitted


def _submit_new(c: sqlite3.Connection, request: OperationRequest, now: int) -> SubmittedJob:
    lookup = {
        "domain_id": request.domain_id,
        "service_type": request.service_type,
        "name": request.service_name,
    }
    row = c.execute(Q["lock_live_instance"], lookup).fetchone()
    if request.operation_type == instances.OperationType.CREATE_SERVICE:
        if row is not None:
            raise errors.InstanceExists(
                f"Service [{request.service_name}] already exists in identity domain "
                f"[{request.identity_domain}]."
            )
        previous = instances.InstanceState.CREATING
        service_id = c.execute(
            Q["insert_instance"],
            {
                "domain_id": request.domain_id,
                "service_type": request.service_type,
                "name": request.service_name,
                "description": request.description,
                "state": previous,
                "parameters": json.dumps(request.parameters),
                "created_by": request.auth_user,
                "now": now,
            },
        ).fetchone()[0]
    else:
        if row is None:
            raise errors.InstanceNotFound(
                f"No {request.service_type} service [{request.service_name}] in identity domain "
                f"[{request.identity_domain}]."
            )
        service_id, previous = row[0], instances.InstanceState(row[5])
        _refuse_if_in_flight(c, service_id, request.service_name)
        state = instances.state_on_submit(request.operation_type, previous, request.service_name)
        c.execute(Q["set_instance_state"], {"state": state, "now": now, "service_id": service_id})
    log_id = c.execute(Q["next_activity_log_id"]).fetchone()[0]
    job_id = c.execute(
        Q["insert_job"],
        {
            "activity_log_id": log_id,
            "domain_id": request.domain_id,
            "identity_domain": request.identity_domain,
            "service_id": service_id,
            "service_name": request.service_name,
            "service_type": request.service_type,
            "operation_type": request.operation_type,
            "auth_domain": request.auth_domain,
            "auth_user": request.auth_user,
            "initiated_by": request.initiated_by,
            "parameters": json.dumps(request.parameters),
            "previous_instance_state": previous,
            "max_attempts": request.max_attempts,
            "backoff_ms": request.backoff_ms,
            "now": now,
        },
    ).fetchone()[0]
    insert_messages(c, job_id, 1, [SUBMITTED_MESSAGE], now)
    return SubmittedJob(job_id, log_id, service_id)


def _refuse_if_in_flight(c: sqlite3.Connection, service_id: int, service_name: str) -> None:
    in_flight = c.execute(Q["job_in_flight"], {"service_id": service_id}).fetchone()
    if in_flight is not None:
        raise errors.OperationInFlight(
            f"Service [{service_name}] has operation job [{in_flight[0]}] in progress; "
            "wait for it to end, then retry."
        )


# -- ending, requeueing ----------------------------------------------------------------------


def finish(c: sqlite3.Connection, job: ClaimedJob, status: JobStatus, messages: list[str]) -> None:
    """The worker's end of its job; a cancellation recorded first makes it FAILED."""
    now = now_ms()
    fence = {"job_id": job.job_id, "token": job.lease_token, "now": now}
    held = c.execute(Q["lock_running_job"], fence).fetchone()
    if held is None:
        raise errors.LeaseLost()
    if held[0] is not None:
        status, messages = JobStatus.FAILED, closing_messages_when_cancelled(messages, held[0])
    closing = [*messages, ENDED_MESSAGE]
    row = c.execute(Q["end_job"], {**fence, "status": status, "count": len(closing)}).fetchone()
    _apply_end(c, job.job_id, status, closing, now, row)


def release(c: sqlite3.Connection, job: ClaimedJob, reason: str) -> bool:
    """Hand a held job back for another attempt; True if it is NEW again (False: a
    cancellation was waiting, so it ended instead)."""
    now = now_ms()
    fence = {"job_id": job.job_id, "token": job.lease_token, "now": now}
    held = c.execute(Q["lock_running_job"], fence).fetchone()
    if held is None:
        raise errors.LeaseLost()
    if held[0] is not None:
        _close(c, job.job_id, JobStatus.FAILED, [reason, cancelled_message(held[0])], now)
        return False
    # The attempt was handed back, not lost: it does not count against the policy's attempts.
    _requeue(c, job.job_id, reason, now, now, extra_attempts=1)
    return True


def rescue_expired(c: sqlite3.Connection, now: int) -> list[RescuedJob]:
    rescued = []
    for job_id, attempt, max_attempts, backoff_ms, cancelled_by in c.execute(
        Q["expired_leases"], {"now": now}
    ).fetchall():
        plan = plan_rescue(attempt, max_attempts, backoff_ms, cancelled_by)
        if plan.status is JobStatus.NEW:
            _requeue(c, job_id, plan.messages[0], now + plan.delay_ms, now, extra_attempts=0)
        else:
            _close(c, job_id, plan.status, list(plan.messages), now)
        rescued.append(RescuedJob(job_id, plan.status))
    return rescued


def cancel(c: sqlite3.Connection, domain_id: int, job_id: int, requested_by: str) -> JobView:
    """NEW ends FAILED at once; RUNNING records the request for its worker; else refuse."""
    key = {"job_id": job_id, "domain_id": domain_id}
    row = c.execute(Q["lock_job_for_cancel"], key).fetchone()
    if row is None:
        raise errors.JobNotFound()
    status, already_requested_by = row
    now = now_ms()
    if status == JobStatus.NEW:
        _close(c, job_id, JobStatus.FAILED, [cancelled_message(requested_by)], now)
    elif status != JobStatus.RUNNING:
        raise errors.JobAlreadyEnded(f"Job [{job_id}] already ended with status {status}.")
    elif already_requested_by is None:
        params = {"job_id": job_id, "requested_by": requested_by}
        count = c.execute(Q["record_cancel_request"], params).fetchone()[0]
        insert_messages(c, job_id, count, [cancel_requested_message(requested_by)], now)
    view = job_view_with_messages(c.execute(Q["get_job"], key).fetchone())
    if view is None:  # pragma: no cover - the row was locked above
        raise errors.JobNotFound()
    return view


def _close(
    c: sqlite3.Connection, job_id: int, status: JobStatus, messages: list[str], now: int
) -> None:
    closing = [*messages, ENDED_MESSAGE]
    params = {"job_id": job_id, "status": status, "now": now, "count": len(closing)}
    row = c.execute(Q["close_job"], params).fetchone()
    _apply_end(c, job_id, status, closing, now, row)


def _apply_end(
    c: sqlite3.Connection,
    job_id: int,
    status: JobStatus,
    closing: list[str],
    now: int,
    row: Sequence[Any],
) -> None:
    """After the job row ended: its closing messages, and its instance's new state."""
    count, service_id, operation, previous, job_parameters = row
    insert_messages(c, job_id, count - len(closing) + 1, closing, now)
    state = instances.state_on_end(operation, status, instances.InstanceState(previous))
    c.execute(Q["set_instance_state"], {"state": state, "now": now, "service_id": service_id})
    if status is not JobStatus.FAILED and operation == instances.OperationType.SCALE_SERVICE:
        current = json.loads(
            c.execute(Q["get_instance_parameters"], {"service_id": service_id}).fetchone()[0]
        )
        merged = json.dumps({**current, **json.loads(job_parameters)})
        c.execute(
            Q["set_instance_parameters"],
            {"parameters": merged, "now": now, "service_id": service_id},
        )


def _requeue(
    c: sqlite3.Connection,
    job_id: int,
    message: str,
    run_after: int,
    now: int,
    *,
    extra_attempts: int,
) -> None:
    params = {"job_id": job_id, "run_after": run_after, "extra_attempts": extra_attempts}
    count = c.execute(Q["requeue_job"], params).fetchone()[0]
    insert_messages(c, job_id, count, [message], now)


# -- shared ----------------------------------------------------------------------------------


def insert_messages(
    c: sqlite3.Connection, job_id: int, first_position: int, texts: Sequence[str], now: int
) -> None:
    c.executemany(
        Q["insert_message"],
        [
            {
                "job_id": job_id,
                "position": first_position + i,
                "now": now,
                "message": storable_message(text),
            }
            for i, text in enumerate(texts)
        ],
    )
