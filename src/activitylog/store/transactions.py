"""Every store transaction, written once for both dialects.

Each function is a generator of steps (store/steps.py): the SQLite driver runs it on the writer
thread under BEGIN IMMEDIATE, which serialises it with every other write to the file; the
PostgreSQL driver runs it in a transaction, where queries that must take turns with another
writer (a cancellation and the job's end, say) lock their rows first (FOR UPDATE, in
postgres.sql), so that the second sees what the first did. Nothing here does I/O; the caller
passes the time in, so one transaction sees one ``now``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from activitylog import errors
from activitylog.domain import instances
from activitylog.domain.jobs import (
    ENDED_MESSAGE,
    IDEMPOTENCY_WINDOW_MS,
    STARTED_MESSAGE,
    SUBMITTED_MESSAGE,
    JobStatus,
    cancel_requested_message,
    cancelled_message,
    closing_messages_when_cancelled,
    plan_rescue,
    storable_message,
)
from activitylog.domain.search import JobQuery
from activitylog.store import steps
from activitylog.store.records import (
    ClaimedJob,
    Domain,
    Instance,
    InstanceWithLastJob,
    JobView,
    LastJob,
    Message,
    OperationRequest,
    RescuedJob,
    SubmittedJob,
    User,
    claimed_job,
    instance_from_row,
    job_view_from_row,
    job_view_with_messages,
)
from activitylog.store.search_sql import build_browse, build_search
from activitylog.store.steps import Dialect, Notify, Transaction

# -- identity domains and users --------------------------------------------------------------

ADMIN = "admin"


def create_domain(name: str, now: int) -> Transaction[Domain]:
    inserted = yield steps.row("insert_domain", name=name, now=now)
    return Domain(*inserted)


def get_domain(name: str) -> Transaction[Domain | None]:
    found = yield steps.row("get_domain", name=name)
    return Domain(*found) if found else None


def list_domains() -> Transaction[list[Domain]]:
    found = yield steps.rows("list_domains")
    return [Domain(*domain) for domain in found]


def require_domain(name: str) -> Transaction[int]:
    found = yield steps.row("get_domain", name=name)
    if found is None:
        raise errors.NotFound(
            f"No identity domain [{name}]; create it with `activitylog domain add`."
        )
    return int(found["domain_id"])


def create_user(
    domain_name: str, name: str, password_hash: str, role: str, now: int
) -> Transaction[User]:
    domain_id = yield from require_domain(domain_name)
    yield steps.execute(
        "insert_user",
        domain_id=domain_id,
        name=name,
        password_hash=password_hash,
        role=role,
        now=now,
    )
    return (yield from _stored_user(domain_name, name))


def update_user(
    domain_name: str, name: str, password_hash: str | None, role: str | None
) -> Transaction[User]:
    domain_id = yield from require_domain(domain_name)
    if role is not None and role != ADMIN:
        yield from _keep_an_admin(domain_id, domain_name, name)
    updated = yield steps.row(
        "update_user", domain_id=domain_id, name=name, password_hash=password_hash, role=role
    )
    if updated is None:
        raise _no_user(domain_name, name)
    # Its API tokens are capped by its role: other processes must read them again.
    yield steps.execute("bump_credentials_version")
    return (yield from _stored_user(domain_name, name))


def delete_user(domain_name: str, name: str) -> Transaction[None]:
    domain_id = yield from require_domain(domain_name)
    yield from _keep_an_admin(domain_id, domain_name, name)
    # Its API tokens go with it (ON DELETE CASCADE); other processes must stop trusting them.
    if (yield steps.row("delete_user", domain_id=domain_id, name=name)) is None:
        raise _no_user(domain_name, name)
    yield steps.execute("bump_credentials_version")


def _keep_an_admin(domain_id: int, domain_name: str, name: str) -> Transaction[None]:
    """Refuse to take the admin role from a domain's last admin, who alone can manage its users.

    The domain's row is locked first (on PostgreSQL; SQLite's writes take turns anyway): two
    admins removing each other at once then take turns, and the second counts after the first.
    """
    yield steps.execute("lock_domain_users", domain_id=domain_id)
    admins = {row["name"] for row in (yield steps.rows("domain_admins", domain_id=domain_id))}
    if admins == {name}:
        raise errors.LastAdmin(
            f"User [{name}] is the last admin of identity domain [{domain_name}]: give another "
            "user the admin role first, then retry."
        )


def find_user(domain_name: str, name: str) -> Transaction[User | None]:
    found = yield steps.row("find_user", domain_name=domain_name, name=name)
    return User(*found) if found else None


def list_users(domain_name: str) -> Transaction[list[User]]:
    found = yield steps.rows("list_users", domain_name=domain_name)
    return [User(*user) for user in found]


def _stored_user(domain_name: str, name: str) -> Transaction[User]:
    user = yield from find_user(domain_name, name)
    if user is None:  # pragma: no cover - written by the same transaction
        raise _no_user(domain_name, name)
    return user


def _no_user(domain_name: str, name: str) -> errors.NotFound:
    return errors.NotFound(f"No user [{name}] in identity domain [{domain_name}].")


# -- service instances -----------------------------------------------------------------------


def get_instance(domain_id: int, service_type: str, name: str) -> Transaction[Instance | None]:
    found = yield steps.row(
        "get_live_instance", domain_id=domain_id, service_type=service_type, name=name
    )
    return instance_from_row(found) if found else None


def list_instances(domain_id: int, service_type: str) -> Transaction[list[Instance]]:
    found = yield steps.rows("list_live_instances", domain_id=domain_id, service_type=service_type)
    return [instance_from_row(instance) for instance in found]


def list_instances_with_last_job(
    domain_id: int, service_type: str
) -> Transaction[list[InstanceWithLastJob]]:
    """The live instances of the type, by name, each with its newest job; run in one snapshot,
    so that an instance and its last job agree."""
    instances = yield from list_instances(domain_id, service_type)
    last = yield steps.rows(
        "last_jobs_of_live_instances", domain_id=domain_id, service_type=service_type
    )
    last_jobs = {row[0]: LastJob(*row) for row in last}
    return [InstanceWithLastJob(i, last_jobs.get(i.service_id)) for i in instances]


# -- jobs, API side --------------------------------------------------------------------------


def submit(request: OperationRequest, now: int) -> Transaction[SubmittedJob]:
    """A new NEW job; or, for an Idempotency-Key already used, the job it created.

    On PostgreSQL a request racing another with the same key waits on the other's uncommitted
    key row (the primary key), then finds it committed, with its job: both answer with one job.
    """
    idempotency = request.idempotency
    if idempotency is None:
        return (yield from _submit_new(request, now))
    key = {"domain_id": request.domain_id, "idempotency_key": idempotency.key}
    claimed = yield steps.row(
        "claim_idempotency_key",
        **key,
        fingerprint=idempotency.fingerprint,
        now=now,
        expired_before=now - IDEMPOTENCY_WINDOW_MS,
    )
    if claimed is None:
        earlier = yield steps.row("find_idempotency_key", **key)
        return _earlier_submission(earlier, idempotency.fingerprint)
    submitted = yield from _submit_new(request, now)
    yield steps.execute("set_idempotency_job", **key, job_id=submitted.job_id)
    return submitted


def _earlier_submission(found: Any, fingerprint: str) -> SubmittedJob:
    """The job an Idempotency-Key's first request created, if this request is the same one."""
    if found is None:  # only while that first request's transaction has not committed
        raise errors.StoreUnavailable(
            "The first request with this Idempotency-Key is still in progress; retry shortly."
        )
    if found["fingerprint"] != fingerprint:
        raise errors.IdempotencyKeyReused()
    return SubmittedJob(
        found["job_id"], found["activity_log_id"], found["service_id"], replayed=True
    )


def instance_exists(request: OperationRequest) -> errors.InstanceExists:
    return errors.InstanceExists(
        f"Service [{request.service_name}] already exists in identity domain "
        f"[{request.identity_domain}]."
    )


def _submit_new(request: OperationRequest, now: int) -> Transaction[SubmittedJob]:
    live = yield steps.row(
        "lock_live_instance",
        domain_id=request.domain_id,
        service_type=request.service_type,
        name=request.service_name,
    )
    if request.operation_type == instances.OperationType.CREATE_SERVICE:
        if live is not None:
            raise instance_exists(request)
        previous = instances.InstanceState.CREATING
        # On PostgreSQL a concurrent create of the same name waits here on the unique index,
        # then fails.
        service_id = yield steps.value(
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
        if live is None:
            raise errors.InstanceNotFound(
                f"No {request.service_type} service [{request.service_name}] in identity domain "
                f"[{request.identity_domain}]."
            )
        service_id, previous = live["service_id"], instances.InstanceState(live["state"])
        yield from _refuse_if_in_flight(service_id, request.service_name)
        state = instances.state_on_submit(request.operation_type, previous, request.service_name)
        yield steps.execute("set_instance_state", state=state, now=now, service_id=service_id)
    log_id = yield steps.value("next_activity_log_id")
    job_id = yield steps.value(
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
    yield _insert_messages(job_id, 1, [SUBMITTED_MESSAGE], now)
    return SubmittedJob(job_id, log_id, service_id)


def _refuse_if_in_flight(service_id: int, service_name: str) -> Transaction[None]:
    in_flight = yield steps.value("job_in_flight", service_id=service_id)
    if in_flight is not None:
        raise errors.OperationInFlight(
            f"Service [{service_name}] has operation job [{in_flight}] in progress; "
            "wait for it to end, then retry."
        )


def get_job(domain_id: int, job_id: int) -> Transaction[JobView | None]:
    # One statement: one snapshot without BEGIN and COMMIT, one round trip on PostgreSQL.
    found = yield steps.row("get_job", job_id=job_id, domain_id=domain_id)
    return job_view_with_messages(found)


def get_job_by_log_id(domain_id: int, activity_log_id: int) -> Transaction[JobView | None]:
    found = yield steps.row(
        "get_job_by_log_id", activity_log_id=activity_log_id, domain_id=domain_id
    )
    return job_view_with_messages(found)


def search_jobs(
    domain_id: int, query: JobQuery, dialect: Dialect
) -> Transaction[tuple[list[JobView], int]]:
    """One page of matching jobs and how many match in all; run in one snapshot."""
    sql = build_search(domain_id, query, dialect.placeholder)
    total = yield steps.Built(sql.count, sql.params, "value")
    page = yield steps.Built(sql.page, sql.page_params, "rows")
    if not page:
        return [], total
    ids = [job["job_id"] for job in page]
    by_job: dict[int, list[Message]] = {job_id: [] for job_id in ids}
    for message in (yield steps.rows("messages_of_jobs", job_ids=ids)):
        by_job[message["job_id"]].append(Message(message["activity_date"], message["message"]))
    return [job_view_from_row(job, tuple(by_job[job["job_id"]])) for job in page], total


def browse_jobs(
    domain_id: int, query: JobQuery, dialect: Dialect
) -> Transaction[tuple[list[JobView], dict[str, int]]]:
    """One page of matching jobs, without their messages, and how many of the filter's jobs
    are in each status whatever statuses it chose (every status, 0 when none); one snapshot."""
    sql = build_browse(domain_id, query, dialect.placeholder)
    counted = yield steps.Built(sql.count, sql.params, "rows")
    page = yield steps.Built(sql.page, sql.page_params, "rows")
    counts = {status.value: 0 for status in JobStatus}
    counts |= {row["status"]: row["jobs"] for row in counted}
    return [job_view_from_row(job, ()) for job in page], counts


def cancel(domain_id: int, job_id: int, requested_by: str, now: int) -> Transaction[JobView]:
    """NEW ends FAILED at once; RUNNING records the request for its worker; else refuse."""
    key = {"job_id": job_id, "domain_id": domain_id}
    found = yield steps.row("lock_job_for_cancel", **key)
    if found is None:
        raise errors.JobNotFound()
    status, already_requested_by = found["status"], found["cancel_requested_by"]
    if status == JobStatus.NEW:
        yield from _close(job_id, JobStatus.FAILED, [cancelled_message(requested_by)], now)
    elif status != JobStatus.RUNNING:
        raise errors.JobAlreadyEnded(f"Job [{job_id}] already ended with status {status}.")
    elif already_requested_by is None:
        count = yield steps.value("record_cancel_request", job_id=job_id, requested_by=requested_by)
        yield _insert_messages(job_id, count, [cancel_requested_message(requested_by)], now)
    view = yield from get_job(domain_id, job_id)
    if view is None:  # pragma: no cover - the row was locked above
        raise errors.JobNotFound()
    yield Notify("job_changed", job_id, domain_id)
    yield Notify("job_cancelled", job_id, domain_id)
    return view


# -- jobs, engine side -----------------------------------------------------------------------
# Every write taking a job's lease token is fenced: it finds no row, and raises LeaseLost,
# once the token is no longer the job's current lease. Expiry alone does not fence: it lets
# the rescuer take the job back, and the rescue clears the token.


def claim(
    dialect: Dialect,
    *,
    token_prefix: str,
    owner: str,
    now: int,
    expires_at: int,
    limit: int,
    service_types: Sequence[str] | None,
) -> Transaction[list[ClaimedJob]]:
    """Up to ``limit`` NEW jobs, oldest first within a priority, each with its Started message."""
    if dialect.before_claim is not None:
        yield steps.execute(dialect.before_claim)
    claimed = yield steps.rows(
        "claim_jobs",
        token_prefix=token_prefix,
        owner=owner,
        now=now,
        expires_at=expires_at,
        limit=limit,
        service_types=None if service_types is None else list(service_types),
        started_message=STARTED_MESSAGE,
    )
    claimed = sorted(claimed, key=lambda job: job["job_id"])
    if not dialect.claim_writes_started_messages:
        for job in claimed:
            yield _insert_messages(job["job_id"], job["message_count"], [STARTED_MESSAGE], now)
    return [claimed_job(job) for job in claimed]


def append_message(job: ClaimedJob, text: str, now: int) -> Transaction[None]:
    count = yield steps.value(
        "reserve_message_positions", job_id=job.job_id, token=job.lease_token, now=now, count=1
    )
    if count is None:
        raise errors.LeaseLost()
    yield _insert_messages(job.job_id, count, [text], now)


def set_progress(job: ClaimedJob, percent: int, now: int) -> Transaction[None]:
    recorded = yield steps.row(
        "set_progress", job_id=job.job_id, token=job.lease_token, now=now, percent=percent
    )
    if recorded is None:
        raise errors.LeaseLost()


def renew_lease(job: ClaimedJob, expires_at: int) -> Transaction[str | None]:
    """Extend the lease; return who asked to cancel the job, if anyone has."""
    renewed = yield steps.row(
        "renew_lease", job_id=job.job_id, token=job.lease_token, expires_at=expires_at
    )
    if renewed is None:
        raise errors.LeaseLost()
    return _text_or_none(renewed["cancel_requested_by"])


def cancel_request(job: ClaimedJob) -> Transaction[str | None]:
    found = yield steps.row("job_cancel_request", job_id=job.job_id, token=job.lease_token)
    if found is None:
        raise errors.LeaseLost()
    return _text_or_none(found["cancel_requested_by"])


def finish(
    job: ClaimedJob, status: JobStatus, messages: list[str], now: int
) -> Transaction[JobStatus]:
    """The worker's end of its job; a cancellation recorded first makes it FAILED. Returns the
    status recorded."""
    fence = {"job_id": job.job_id, "token": job.lease_token, "now": now}
    held = yield steps.row("lock_running_job", **fence)
    if held is None:
        raise errors.LeaseLost()
    if held["cancel_requested_by"] is not None:
        messages = closing_messages_when_cancelled(messages, held["cancel_requested_by"])
        status = JobStatus.FAILED
    closing = [*messages, ENDED_MESSAGE]
    ended = yield steps.row("end_job", **fence, status=status, count=len(closing))
    yield from _apply_end(job.job_id, status, closing, now, ended)
    return status


def release(job: ClaimedJob, reason: str, now: int) -> Transaction[bool]:
    """Hand a held job back for another attempt; True if it is NEW again (False: a
    cancellation was waiting, so it ended instead)."""
    held = yield steps.row("lock_running_job", job_id=job.job_id, token=job.lease_token, now=now)
    if held is None:
        raise errors.LeaseLost()
    yield Notify("job_changed", job.job_id, job.domain_id)
    if held["cancel_requested_by"] is not None:
        closing = [reason, cancelled_message(held["cancel_requested_by"])]
        yield from _close(job.job_id, JobStatus.FAILED, closing, now)
        return False
    # The attempt was handed back, not lost: it does not count against the policy's attempts.
    yield from _requeue(job.job_id, reason, now, now, extra_attempts=1)
    yield Notify("new_job")
    return True


def rescue_expired(now: int, live_leases: Sequence[str]) -> Transaction[list[RescuedJob]]:
    """Every RUNNING job whose lease expired goes back to NEW (after its backoff) while
    attempts remain, or ends FAILED; but not those of ``live_leases``. On PostgreSQL SKIP
    LOCKED leaves a job whose worker is finishing it right now to that worker."""
    rescued = []
    for job in (yield steps.rows("expired_leases", now=now, live_leases=list(live_leases))):
        job_id = job["job_id"]
        plan = plan_rescue(
            job["attempt"], job["max_attempts"], job["backoff_ms"], job["cancel_requested_by"]
        )
        if plan.status is JobStatus.NEW:
            yield from _requeue(
                job_id, plan.messages[0], now + plan.delay_ms, now, extra_attempts=0
            )
        else:
            yield from _close(job_id, plan.status, list(plan.messages), now)
        yield Notify("job_changed", job_id, job["domain_id"])
        rescued.append(RescuedJob(job_id, plan.status, job["domain_id"]))
    if any(job.status == JobStatus.NEW for job in rescued):
        yield Notify("new_job")
    return rescued


def _close(job_id: int, status: JobStatus, messages: list[str], now: int) -> Transaction[None]:
    """End a job whoever holds it; the caller checked (and locked) it first."""
    closing = [*messages, ENDED_MESSAGE]
    ended = yield steps.row("close_job", job_id=job_id, status=status, now=now, count=len(closing))
    yield from _apply_end(job_id, status, closing, now, ended)


def _apply_end(
    job_id: int, status: JobStatus, closing: list[str], now: int, ended: Any
) -> Transaction[None]:
    """After the job row ended: its closing messages, and its instance's new state."""
    service_id, operation = ended["service_id"], ended["operation_type"]
    first = ended["message_count"] - len(closing) + 1
    yield _insert_messages(job_id, first, closing, now)
    previous = instances.InstanceState(ended["previous_instance_state"])
    state = instances.state_on_end(operation, status, previous)
    yield steps.execute("set_instance_state", state=state, now=now, service_id=service_id)
    if status is not JobStatus.FAILED and operation == instances.OperationType.SCALE_SERVICE:
        current = yield steps.value("get_instance_parameters", service_id=service_id)
        merged = json.dumps({**json.loads(current), **json.loads(ended["parameters"])})
        yield steps.execute(
            "set_instance_parameters", parameters=merged, now=now, service_id=service_id
        )


def _requeue(
    job_id: int, message: str, run_after: int, now: int, *, extra_attempts: int
) -> Transaction[None]:
    count = yield steps.value(
        "requeue_job", job_id=job_id, run_after=run_after, extra_attempts=extra_attempts
    )
    yield _insert_messages(job_id, count, [message], now)


def _insert_messages(
    job_id: int, first_position: int, texts: Sequence[str], now: int
) -> steps.QueryEach:
    return steps.QueryEach(
        "insert_message",
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


def _text_or_none(found: Any) -> str | None:
    return None if found is None else str(found)
