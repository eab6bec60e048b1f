"""What the stores hand back and take in: plain frozen records, no behaviour."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Domain:
    domain_id: int
    name: str


@dataclasses.dataclass(frozen=True, slots=True)
class User:
    user_id: int
    domain_id: int
    domain_name: str
    name: str
    password_hash: str
    role: str
    credential_version: int


@dataclasses.dataclass(frozen=True, slots=True)
class Instance:
    service_id: int
    identity_domain: str
    service_type: str
    name: str
    description: str
    state: str
    parameters: dict[str, Any]
    created_by: str
    created_at: int
    updated_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class LastJob:
    """An instance's newest job, as the console's Services page shows it."""

    service_id: int
    job_id: int
    operation_type: str
    status: str
    start_date: int
    end_date: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class InstanceWithLastJob:
    instance: Instance
    last_job: LastJob | None
    """None only for an instance whose jobs were all pruned."""


@dataclasses.dataclass(frozen=True, slots=True)
class Message:
    activity_date: int
    text: str


@dataclasses.dataclass(frozen=True, slots=True)
class JobView:
    """Everything the job body shows, in the body's order."""

    activity_log_id: int
    service_name: str
    service_type: str
    identity_domain: str
    service_id: int
    job_id: int
    start_date: int
    end_date: int | None
    status: str
    operation_type: str
    auth_domain: str
    auth_user: str
    initiated_by: str
    percent_complete: int | None
    version: int
    messages: tuple[Message, ...]


@dataclasses.dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A client's Idempotency-Key, and the fingerprint of the request that came with it."""

    key: str
    fingerprint: str


@dataclasses.dataclass(frozen=True, slots=True)
class OperationRequest:
    domain_id: int
    identity_domain: str
    service_type: str
    service_name: str
    operation_type: str
    parameters: dict[str, Any]
    auth_domain: str
    auth_user: str
    description: str = ""
    initiated_by: str = "USER"
    max_attempts: int = 1
    """Attempts allowed when workers are lost; a handler's own failure is never retried."""
    backoff_ms: int = 0
    """The wait before the first retry; it doubles with each retry after that."""
    idempotency: IdempotencyKey | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class SubmittedJob:
    job_id: int
    activity_log_id: int
    service_id: int
    replayed: bool = False
    """True when an Idempotency-Key found the job an earlier request created."""


@dataclasses.dataclass(frozen=True, slots=True)
class ClaimedJob:
    """A job a worker holds. ``lease_token`` fences its writes: once lost, they are refused."""

    job_id: int
    attempt: int
    lease_token: str
    service_id: int
    service_name: str
    service_type: str
    identity_domain: str
    operation_type: str
    parameters: dict[str, Any]
    domain_id: int | None = None
    """The job's identity domain, which its changes carry to that domain's event streams; None
    only for a job made up outside the store (a test's, a fake context's)."""
    run_after: int | None = None
    """When the job became claimable (submitted, or its retry's backoff over), in epoch ms:
    the start of its wait (activitylog_job_wait_seconds)."""


@dataclasses.dataclass(frozen=True, slots=True)
class ApiToken:
    """A personal API token as its owner and admins see it: never its secret."""

    token_id: int
    user_id: int
    user_name: str
    name: str
    role: str
    created_by: str
    created_at: int
    expires_at: int
    last_used_at: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class NewToken:
    """What creating a token takes: the secret itself stays with the caller, only its hash
    is stored."""

    domain_id: int
    user_name: str
    name: str
    role: str
    secret_hash: str
    expires_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class TokenGrant:
    """What a presented token is worth, read with its user: the token's role is capped by
    ``user_role`` at use time."""

    token_id: int
    user_id: int
    domain_id: int
    domain_name: str
    user_name: str
    token_role: str
    user_role: str
    expires_at: int
    last_used_at: int | None


@dataclasses.dataclass(frozen=True, slots=True)
class NewConsoleSession:
    """A console session to begin: the hash of its id (the id itself stays in the cookie)."""

    session_hash: str
    user_id: int
    user_version: int
    """The user's credential_version at sign-in; the session ends when it moves."""
    csrf_token: str
    now: int


@dataclasses.dataclass(frozen=True, slots=True)
class ConsoleSessionGrant:
    """A live console session, read with its user as the user is now."""

    user_id: int
    domain_id: int
    domain_name: str
    user_name: str
    role: str
    csrf_token: str
    last_seen_at: int


@dataclasses.dataclass(frozen=True, slots=True)
class Actor:
    """Who did something, and from where (the client's address; empty when unknown)."""

    name: str
    address: str


@dataclasses.dataclass(frozen=True, slots=True)
class AuditRecord:
    """An audit event to record: ``kind`` (domain/audit.py) done by ``actor`` to ``subject``."""

    domain_id: int
    kind: str
    actor: Actor
    subject: str
    details: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, slots=True)
class AuditEvent:
    """A recorded audit event. A counted one (failed sign-ins) stands for ``occurrences``
    events between ``occurred_at`` and ``last_occurred_at``, within one hour."""

    event_id: int
    kind: str
    actor: str
    address: str
    subject: str
    details: dict[str, Any]
    occurred_at: int
    last_occurred_at: int
    occurrences: int


# Rows become records by position, the fast way (a job's status is read on every poll), so each
# query below names its columns as its record's fields, in order: tests/contract/
# test_row_records.py checks that on both dialects, and fails when a column moves.
@dataclasses.dataclass(frozen=True, slots=True)
class OperationDurations:
    """How long one operation type's jobs that ended in a window took: exact percentiles
    (percentile_disc: the least duration that p of them do not exceed), in milliseconds."""

    operation_type: str
    jobs: int
    p50_ms: int
    p95_ms: int


@dataclasses.dataclass(frozen=True, slots=True)
class JobOverview:
    """The console's Overview (store/overview_transactions.py): one identity domain's jobs
    over a window cut in buckets, each named by its start (epoch ms), and what is waiting and
    running now in every domain."""

    started: dict[int, int]
    """Bucket -> jobs that started in it; a bucket without any is absent."""
    ended: dict[int, dict[str, int]]
    """Bucket -> status -> jobs that ended in it with that status."""
    durations: list[OperationDurations]
    """Of the jobs that ended in the window, by operation type."""
    waiting: int
    """NEW jobs that could run now, every domain's (store.waiting_jobs)."""
    oldest_waiting: int | None
    """Since when the oldest of them could run (epoch ms)."""
    workers: int
    """Workers holding an unexpired lease on a RUNNING job, every domain's."""
    leases: int
    """The unexpired leases they hold: one per RUNNING job."""


ROW_RECORDS: dict[str, tuple[type, tuple[str, ...]]] = {
    # query: (record, columns after the record's fields that the store reads by name)
    "insert_domain": (Domain, ()),
    "get_domain": (Domain, ()),
    "list_domains": (Domain, ()),
    "find_user": (User, ()),
    "list_users": (User, ()),
    "get_live_instance": (Instance, ()),
    "lock_live_instance": (Instance, ()),
    "list_live_instances": (Instance, ()),
    "last_jobs_of_live_instances": (LastJob, ()),
    "get_job": (JobView, ()),
    "get_job_by_log_id": (JobView, ()),
    "claim_jobs": (ClaimedJob, ("message_count",)),
    "get_token": (ApiToken, ()),
    "list_tokens": (ApiToken, ()),
    "find_token_by_secret": (TokenGrant, ()),
    "find_console_session": (ConsoleSessionGrant, ()),
    "audit_events_page": (AuditEvent, ()),
    "durations_per_operation": (OperationDurations, ()),
}


def instance_from_row(row: Sequence[Any]) -> Instance:
    """An Instance from a row in its field order, parameters as JSON text."""
    values = list(row)
    values[6] = json.loads(values[6])
    return Instance(*values)


def audit_event_from_row(row: Sequence[Any]) -> AuditEvent:
    """An AuditEvent from a row in its field order, details as JSON text."""
    values = list(row)
    values[5] = json.loads(values[5])
    return AuditEvent(*values)


def claimed_job(row: Sequence[Any]) -> ClaimedJob:
    """A ClaimedJob from a claim_jobs row: its fields in order, parameters as JSON text."""
    job_id, attempt, token, service_id, name, service_type, domain, operation = row[:8]
    return ClaimedJob(
        job_id,
        attempt,
        token,
        service_id,
        name,
        service_type,
        domain,
        operation,
        json.loads(row[8]),
        row[9],
        row[10],
    )


@dataclasses.dataclass(frozen=True, slots=True)
class RescuedJob:
    """A job whose worker's lease expired: back to NEW for a retry, or FAILED."""

    job_id: int
    status: str
    domain_id: int | None = None


def job_view_with_messages(row: Sequence[Any] | None) -> JobView | None:
    """The view of a get_job row (either store), whose last column, ``messages``, holds the
    messages as a JSON array of [activity_date, message]."""
    if row is None:
        return None
    messages = tuple(Message(date, text) for date, text in json.loads(row[-1]))
    return job_view_from_row(tuple(row)[:-1], messages)


def job_view_from_row(row: Sequence[Any], messages: tuple[Message, ...]) -> JobView:
    """A JobView from a row whose columns follow JobView's field order (search_sql.JOB_COLUMNS)."""
    values: list[Any] = [*row, messages]
    return JobView(*values)


@dataclasses.dataclass(frozen=True, slots=True)
class PruneCount:
    """What one prune batch removed (store/retention_transactions.py)."""

    jobs: int = 0
    messages: int = 0
    idempotency_keys: int = 0
    audit_events: int = 0
    more: bool = False
    """The batch was full: more may be left to prune."""
    skipped: bool = False
    """Another process was pruning (PostgreSQL): this batch removed nothing."""


@dataclasses.dataclass(frozen=True, slots=True)
class PrunableJobs:
    """Ended jobs of one domain and service type that the policy would prune now."""

    domain: str
    service_type: str
    jobs: int
    messages: int
