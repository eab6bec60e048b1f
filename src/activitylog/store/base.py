"""The store protocol: everything the API and the engine ask of a database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from activitylog.domain.audit import AuditQuery
from activitylog.domain.jobs import JobStatus
from activitylog.domain.retention import RetentionPolicy
from activitylog.domain.search import JobQuery
from activitylog.store.changes import JobChanges
from activitylog.store.records import (
    Actor,
    ApiToken,
    AuditEvent,
    AuditRecord,
    ClaimedJob,
    ConsoleSessionGrant,
    Domain,
    Instance,
    InstanceWithLastJob,
    JobOverview,
    JobView,
    NewConsoleSession,
    NewToken,
    OperationRequest,
    PrunableJobs,
    PruneCount,
    RescuedJob,
    SubmittedJob,
    TokenGrant,
    User,
)


class Store(Protocol):
    """One database. Writes are atomic and durable when the coroutine returns."""

    changes: JobChanges
    """Every job change this process sees, for long-polls and event streams."""
    cancellations: JobChanges
    """Requests to cancel a job, for the worker running it; a subset of ``changes`` kept apart
    so that a worker is not woken by its own writes."""

    async def open(self) -> None:
        """Connect and apply pending migrations."""

    async def close(self) -> None: ...

    # Identity domains and users.
    async def create_domain(self, name: str) -> Domain: ...
    async def get_domain(self, name: str) -> Domain | None: ...
    async def list_domains(self) -> list[Domain]: ...
    async def create_user(
        self, domain_name: str, name: str, password_hash: str, role: str
    ) -> User: ...
    async def update_user(
        self,
        domain_name: str,
        name: str,
        *,
        password_hash: str | None = None,
        role: str | None = None,
    ) -> User: ...
    async def delete_user(self, domain_name: str, name: str) -> None: ...
    async def list_users(self, domain_name: str) -> list[User]: ...
    async def find_user(self, domain_name: str, name: str) -> User | None: ...

    # Personal API tokens. Revoking one, or changing or deleting a user, bumps the
    # credentials version in the same transaction.
    async def create_token(self, token: NewToken, actor: Actor) -> ApiToken:
        """Store the token (its secret's hash only) and its audit event, together. Raises
        NotFound for an unknown user, Conflict when the user has a token of that name."""

    async def list_tokens(self, domain_id: int, user_id: int | None = None) -> list[ApiToken]:
        """The domain's tokens, or only ``user_id``'s."""

    async def revoke_token(
        self, domain_id: int, token_id: int, actor: Actor, *, owner_id: int | None = None
    ) -> ApiToken:
        """Delete the token and record its audit event; NotFound when it is not in the domain
        (or not ``owner_id``'s, when given)."""

    async def find_token(self, secret_hash: str) -> TokenGrant | None: ...
    async def record_token_use(self, token_ids: Sequence[int]) -> None:
        """Set the tokens' last use to now (never earlier than a use already recorded)."""

    async def credentials_version(self) -> int:
        """A number that moves whenever a token is revoked or a user changed or deleted."""

    # The audit trail.
    async def record_audit_event(self, event: AuditRecord) -> None: ...
    async def count_failed_sign_in(self, domain_name: str, actor: Actor) -> None:
        """Count one failed sign-in in the row of (domain, actor, address, this hour)."""

    async def search_audit_events(
        self, domain_id: int, query: AuditQuery
    ) -> tuple[list[AuditEvent], int]:
        """One page of matching events, newest first, and how many match in all."""

    # The console's sign-in sessions, by the SHA-256 of their id (console/sessions.py).
    async def begin_console_session(
        self, session: NewConsoleSession, *, idle_since: int, per_user: int, sweep_limit: int
    ) -> None:
        """Store the session, keeping the user's ``per_user`` most recently seen sessions at
        most, and end up to ``sweep_limit`` sessions idle since ``idle_since``, together."""

    async def find_console_session(
        self, session_hash: str, *, idle_since: int
    ) -> ConsoleSessionGrant | None:
        """The session, read with its user as the user is now, in one statement; None when
        there is none, it was last seen at ``idle_since`` or before, or its user was deleted
        or changed (credential_version) since it began."""

    async def touch_console_session(self, session_hash: str, now: int) -> None:
        """Record a request at ``now`` (never moving the last one back)."""

    async def end_console_session(self, session_hash: str) -> None: ...
    async def sweep_console_sessions(self, *, idle_since: int, limit: int) -> int:
        """End up to ``limit`` sessions idle since ``idle_since``, oldest first; how many."""

    # Service instances.
    async def get_instance(self, domain_id: int, service_type: str, name: str) -> Instance | None:
        """The live (not deleted) instance of that name."""

    async def list_instances(self, domain_id: int, service_type: str) -> list[Instance]: ...

    async def list_instances_with_last_job(
        self, domain_id: int, service_type: str
    ) -> list[InstanceWithLastJob]:
        """The live instances, by name, each with its newest job (the console's Services)."""

    # Jobs, as the API sees them.
    async def submit_operation(self, request: OperationRequest) -> SubmittedJob:
        """Check the instance's state and record a NEW job, in one transaction.

        With an Idempotency-Key used in the last 24 hours, return that use's job instead
        (``replayed``), or raise IdempotencyKeyReused when the request differs.
        Raises InstanceExists, InstanceNotFound, OperationInFlight or OperationNotAllowed.
        """

    async def get_job(self, domain_id: int, job_id: int) -> JobView | None: ...
    async def get_job_by_log_id(self, domain_id: int, activity_log_id: int) -> JobView | None: ...
    async def search_jobs(self, domain_id: int, query: JobQuery) -> tuple[list[JobView], int]:
        """One page of matching jobs, and how many match in all."""

    async def browse_jobs(
        self, domain_id: int, query: JobQuery
    ) -> tuple[list[JobView], dict[str, int]]:
        """The console's Activity page: one page of matching jobs without their messages, and
        how many of the filter's jobs are in each status, whatever statuses it chose."""

    async def cancel_job(self, domain_id: int, job_id: int, requested_by: str) -> JobView:
        """One compare-and-set: a NEW job ends FAILED at once; a RUNNING one records the
        request for its worker (its view stays RUNNING). Raises JobNotFound, or
        JobAlreadyEnded when the job ended first. Returns the job as it is now."""

    # Jobs, as the engine sees them. Every write taking a lease token is fenced: it raises
    # LeaseLost once the token is no longer the job's current lease. An expired lease is still
    # its holder's until a rescue takes the job back.
    async def claim_jobs(
        self,
        owner: str,
        lease_seconds: float,
        limit: int,
        service_types: Sequence[str] | None = None,
    ) -> list[ClaimedJob]:
        """Up to ``limit`` jobs, oldest first within a priority, in one transaction; only of
        ``service_types`` when given (the types the worker has handlers for)."""

    async def append_message(self, job: ClaimedJob, text: str) -> None: ...
    async def renew_lease(self, job: ClaimedJob, lease_seconds: float) -> str | None:
        """Extend the lease; return who asked to cancel the job, if anyone has."""

    async def cancel_request(self, job: ClaimedJob) -> str | None:
        """Who asked to cancel the job, if anyone (a read: it does not renew the lease)."""

    async def set_progress(self, job: ClaimedJob, percent: int) -> None: ...
    async def finish_job(
        self, job: ClaimedJob, status: JobStatus, messages: Sequence[str]
    ) -> JobStatus:
        """Append the closing messages, set the terminal status and the instance's state;
        return the status recorded.

        When a cancellation was recorded first, the job ends FAILED, saying who cancelled it,
        whatever ``status`` asked for.
        """

    async def release_job(self, job: ClaimedJob, reason: str) -> None:
        """Hand the job back (worker shutting down): NEW again at once, ``reason`` logged.
        The attempt does not count against the job's attempts. A job someone asked to
        cancel ends FAILED instead."""

    async def rescue_expired_jobs(self, live_leases: Sequence[str] = ()) -> list[RescuedJob]:
        """In one transaction, every RUNNING job whose lease expired goes back to NEW (after
        its backoff) while attempts remain, or ends FAILED. On PostgreSQL only the process
        holding the rescuer's advisory lock rescues; the others return no jobs.

        Jobs whose lease token is in ``live_leases`` are left alone: their worker is known to
        be alive (in the rescuer's own process), and its lease expired only because the
        database refused its renewals; it records the job's end once the database is back.
        """

    async def wait_for_new_jobs(self, timeout: float) -> None:
        """Return when a job may have been submitted, or after ``timeout`` seconds."""

    async def applied_migrations(self) -> list[int]:
        """The migration versions the database has; raises StoreUnavailable when it does not
        answer (/health/ready)."""

    async def waiting_jobs(self) -> tuple[int, int | None]:
        """NEW jobs that could run now, and when the oldest of them could first (epoch ms)."""

    async def job_overview(
        self, domain_id: int, since: int, until: int, bucket_ms: int
    ) -> JobOverview:
        """The console's Overview, in one snapshot: the domain's jobs started and ended in
        [since, until) per bucket of ``bucket_ms`` (buckets start at multiples of it since
        the epoch), their durations by operation type, and the jobs waiting and the workers
        holding leases now in every domain."""

    # Retention.
    async def prune_ended_jobs(
        self, policy: RetentionPolicy, *, limit: int = 500, domain: str | None = None
    ) -> PruneCount:
        """One batch: at most ``limit`` ended jobs older than the policy says (with their
        messages and idempotency keys), then old keys and audit events, in one transaction.
        Jobs that have not ended are never removed; the kept counts stay exact. On PostgreSQL
        it removes nothing (``skipped``) while another process prunes."""

    async def count_prunable_jobs(
        self, policy: RetentionPolicy, *, domain: str | None = None
    ) -> list[PrunableJobs]:
        """What ``prune_ended_jobs`` would remove now, by domain and service type."""


@runtime_checkable
class SnapshotTokens(Protocol):
    """A store that can tell, cheaply and without awaiting, whether anything was committed.

    Optional: a store without it (or whose method returns None) is read on every request.
    """

    def snapshot_token(self) -> object | None:
        """A value that stays equal while nothing is committed to the database, by this
        process or any other, and changes when something is; None when the store cannot
        tell. An answer read after taking a token is current for as long as the token is."""


def open_store(url: str, *, pool_size: int = 20, watch_wal_index: bool = True) -> Store:
    """The store for a database URL: ``postgresql://...`` or a SQLite file path. ``pool_size``
    applies to PostgreSQL, ``watch_wal_index`` to SQLite (Settings says what each does)."""
    if url.startswith(("postgres://", "postgresql://")):
        from activitylog.store.postgres import PostgresStore  # noqa: PLC0415

        return PostgresStore(url, max_connections=pool_size)
    from activitylog.store.sqlite import SQLiteStore  # noqa: PLC0415

    path = url.removeprefix("sqlite:///").removeprefix("sqlite://")
    return SQLiteStore(path, watch_wal_index=watch_wal_index)
