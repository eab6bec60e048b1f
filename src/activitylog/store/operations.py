"""The Store protocol's operations, written once above the two drivers.

Each operation runs one transaction (store/transactions.py) the way its kind asks, then tells
this process's waiters what changed. A store subclass says only how a transaction runs on its
database and how other processes learn of changes.
"""

from __future__ import annotations

import abc
import secrets
from collections.abc import Sequence
from typing import TypeVar

from activitylog.domain.audit import AuditQuery
from activitylog.domain.dates import now_ms
from activitylog.domain.jobs import JobStatus
from activitylog.domain.retention import RetentionPolicy
from activitylog.domain.search import JobQuery
from activitylog.store import overview_transactions as overview
from activitylog.store import retention_transactions as retention
from activitylog.store import security_transactions as security
from activitylog.store import transactions as tx
from activitylog.store.changes import JobChange, JobChanges
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
from activitylog.store.steps import Dialect, Transaction

T = TypeVar("T")


class StoreOperations(abc.ABC):
    dialect: Dialect
    changes: JobChanges
    """Every job change this process sees, for long-polls and event streams."""
    cancellations: JobChanges
    """Requests to cancel a job, for the worker running it; kept apart from ``changes`` so that
    a worker is not woken by its own writes."""

    # -- how a transaction runs, per store ------------------------------------------------

    @abc.abstractmethod
    async def _write(self, transaction: Transaction[T]) -> T:
        """Run a transaction that writes; durable when this returns."""

    @abc.abstractmethod
    async def _read(self, transaction: Transaction[T]) -> T:
        """Run a read of one statement, which alone sees one snapshot."""

    @abc.abstractmethod
    async def _read_snapshot(self, transaction: Transaction[T]) -> T:
        """Run a read of several statements in one snapshot."""

    async def _rescue(self, transaction: Transaction[T]) -> T | None:
        """Run the rescue, or None where another process is the one that rescues."""
        return await self._write(transaction)

    # -- how changes are told -------------------------------------------------------------

    @abc.abstractmethod
    def _wake_workers(self) -> None:
        """This process's idle workers: a job may be waiting."""

    @abc.abstractmethod
    def _announce_elsewhere(self, changes: Sequence[JobChange], *, new_job: bool) -> None:
        """Other processes, for a write whose transaction sent no notification itself."""

    def _can_hold(self, *texts: str) -> bool:
        """Whether the database can store these texts at all (a read of one it cannot finds
        nothing, rather than fail)."""
        return True

    def _changed(
        self, changes: Sequence[JobChange], *, new_job: bool = False, cancelled: bool = False
    ) -> None:
        for job_id, domain_id in changes:
            self.changes.publish(job_id, domain_id)
            if cancelled:
                self.cancellations.publish(job_id, domain_id)
        if new_job:
            self._wake_workers()

    def _announce(self, changes: Sequence[JobChange], *, new_job: bool = False) -> None:
        """This process's waiters now, other processes' once told."""
        self._changed(changes, new_job=new_job)
        self._announce_elsewhere(changes, new_job=new_job)

    # -- identity domains and users ---------------------------------------------------------

    async def create_domain(self, name: str) -> Domain:
        return await self._write(tx.create_domain(name, now_ms()))

    async def get_domain(self, name: str) -> Domain | None:
        if not self._can_hold(name):
            return None
        return await self._read(tx.get_domain(name))

    async def list_domains(self) -> list[Domain]:
        return await self._read(tx.list_domains())

    async def create_user(self, domain_name: str, name: str, password_hash: str, role: str) -> User:
        return await self._write(tx.create_user(domain_name, name, password_hash, role, now_ms()))

    async def update_user(
        self,
        domain_name: str,
        name: str,
        *,
        password_hash: str | None = None,
        role: str | None = None,
    ) -> User:
        return await self._write(tx.update_user(domain_name, name, password_hash, role))

    async def delete_user(self, domain_name: str, name: str) -> None:
        await self._write(tx.delete_user(domain_name, name))

    async def list_users(self, domain_name: str) -> list[User]:
        if not self._can_hold(domain_name):
            return []
        return await self._read(tx.list_users(domain_name))

    async def find_user(self, domain_name: str, name: str) -> User | None:
        if not self._can_hold(domain_name, name):
            return None
        return await self._read(tx.find_user(domain_name, name))

    # -- personal API tokens and the audit trail -------------------------------------------

    async def create_token(self, token: NewToken, actor: Actor) -> ApiToken:
        return await self._write(security.create_token(token, actor, now_ms()))

    async def list_tokens(self, domain_id: int, user_id: int | None = None) -> list[ApiToken]:
        return await self._read(security.list_tokens(domain_id, user_id))

    async def revoke_token(
        self, domain_id: int, token_id: int, actor: Actor, *, owner_id: int | None = None
    ) -> ApiToken:
        return await self._write(
            security.revoke_token(domain_id, token_id, actor, owner_id, now_ms())
        )

    async def find_token(self, secret_hash: str) -> TokenGrant | None:
        return await self._read(security.find_token(secret_hash))

    async def record_token_use(self, token_ids: Sequence[int]) -> None:
        await self._write(security.record_token_use(list(token_ids), now_ms()))

    async def credentials_version(self) -> int:
        return await self._read(security.credentials_version())

    async def record_audit_event(self, event: AuditRecord) -> None:
        await self._write(security.record_event(event, now_ms()))

    async def count_failed_sign_in(self, domain_name: str, actor: Actor) -> None:
        if self._can_hold(domain_name, actor.name, actor.address):
            await self._write(security.count_failed_sign_in(domain_name, actor, now_ms()))

    async def search_audit_events(
        self, domain_id: int, query: AuditQuery
    ) -> tuple[list[AuditEvent], int]:
        return await self._read_snapshot(security.search_events(domain_id, query))

    # -- the console's sign-in sessions --------------------------------------------------------

    async def begin_console_session(
        self, session: NewConsoleSession, *, idle_since: int, per_user: int, sweep_limit: int
    ) -> None:
        await self._write(
            security.begin_console_session(session, idle_since, per_user, sweep_limit)
        )

    async def find_console_session(
        self, session_hash: str, *, idle_since: int
    ) -> ConsoleSessionGrant | None:
        return await self._read(security.find_console_session(session_hash, idle_since))

    async def touch_console_session(self, session_hash: str, now: int) -> None:
        await self._write(security.touch_console_session(session_hash, now))

    async def end_console_session(self, session_hash: str) -> None:
        await self._write(security.end_console_session(session_hash))

    async def sweep_console_sessions(self, *, idle_since: int, limit: int) -> int:
        return await self._write(security.sweep_console_sessions(idle_since, limit))

    # -- service instances ----------------------------------------------------------------

    async def get_instance(self, domain_id: int, service_type: str, name: str) -> Instance | None:
        """The live (not deleted) instance of that name."""
        if not self._can_hold(service_type, name):
            return None
        return await self._read(tx.get_instance(domain_id, service_type, name))

    async def list_instances(self, domain_id: int, service_type: str) -> list[Instance]:
        if not self._can_hold(service_type):
            return []
        return await self._read(tx.list_instances(domain_id, service_type))

    async def list_instances_with_last_job(
        self, domain_id: int, service_type: str
    ) -> list[InstanceWithLastJob]:
        if not self._can_hold(service_type):
            return []
        return await self._read_snapshot(tx.list_instances_with_last_job(domain_id, service_type))

    # -- jobs, API side -------------------------------------------------------------------

    async def submit_operation(self, request: OperationRequest) -> SubmittedJob:
        submitted = await self._write(tx.submit(request, now_ms()))
        if not submitted.replayed:
            self._announce([JobChange(submitted.job_id, request.domain_id)], new_job=True)
        return submitted

    async def get_job(self, domain_id: int, job_id: int) -> JobView | None:
        return await self._read(tx.get_job(domain_id, job_id))

    async def get_job_by_log_id(self, domain_id: int, activity_log_id: int) -> JobView | None:
        return await self._read(tx.get_job_by_log_id(domain_id, activity_log_id))

    async def search_jobs(self, domain_id: int, query: JobQuery) -> tuple[list[JobView], int]:
        return await self._read_snapshot(tx.search_jobs(domain_id, query, self.dialect))

    async def browse_jobs(
        self, domain_id: int, query: JobQuery
    ) -> tuple[list[JobView], dict[str, int]]:
        return await self._read_snapshot(tx.browse_jobs(domain_id, query, self.dialect))

    async def cancel_job(self, domain_id: int, job_id: int, requested_by: str) -> JobView:
        view = await self._write(tx.cancel(domain_id, job_id, requested_by, now_ms()))
        self._changed([JobChange(job_id, domain_id)], cancelled=True)
        return view

    # -- jobs, engine side ----------------------------------------------------------------

    async def claim_jobs(
        self,
        owner: str,
        lease_seconds: float,
        limit: int,
        service_types: Sequence[str] | None = None,
    ) -> list[ClaimedJob]:
        now = now_ms()
        claimed = await self._write(
            tx.claim(
                self.dialect,
                token_prefix=f"{secrets.token_hex(8)}-",
                owner=owner,
                now=now,
                expires_at=now + int(lease_seconds * 1000),
                limit=limit,
                service_types=service_types,
            )
        )
        if claimed:
            self._announce([JobChange(job.job_id, job.domain_id) for job in claimed])
        return claimed

    async def append_message(self, job: ClaimedJob, text: str) -> None:
        await self._write(tx.append_message(job, text, now_ms()))
        self._announce([JobChange(job.job_id, job.domain_id)])

    async def set_progress(self, job: ClaimedJob, percent: int) -> None:
        await self._write(tx.set_progress(job, percent, now_ms()))
        self._announce([JobChange(job.job_id, job.domain_id)])

    async def renew_lease(self, job: ClaimedJob, lease_seconds: float) -> str | None:
        return await self._write(tx.renew_lease(job, now_ms() + int(lease_seconds * 1000)))

    async def cancel_request(self, job: ClaimedJob) -> str | None:
        return await self._read(tx.cancel_request(job))

    async def finish_job(
        self, job: ClaimedJob, status: JobStatus, messages: Sequence[str]
    ) -> JobStatus:
        recorded = await self._write(tx.finish(job, status, list(messages), now_ms()))
        self._announce([JobChange(job.job_id, job.domain_id)])
        return recorded

    async def release_job(self, job: ClaimedJob, reason: str) -> None:
        requeued = await self._write(tx.release(job, reason, now_ms()))
        self._changed([JobChange(job.job_id, job.domain_id)], new_job=requeued)

    async def rescue_expired_jobs(self, live_leases: Sequence[str] = ()) -> list[RescuedJob]:
        rescued = await self._rescue(tx.rescue_expired(now_ms(), live_leases)) or []
        new_job = any(job.status == JobStatus.NEW for job in rescued)
        self._changed([JobChange(job.job_id, job.domain_id) for job in rescued], new_job=new_job)
        return rescued

    # -- health -----------------------------------------------------------------------------

    async def applied_migrations(self) -> list[int]:
        """The migration versions the database has (a read: it answers, or raises)."""
        return await self._read(retention.applied_migrations())

    async def waiting_jobs(self) -> tuple[int, int | None]:
        """NEW jobs that could run now, and when the oldest of them could first (epoch ms)."""
        return await self._read(retention.waiting_jobs(now_ms()))

    async def job_overview(
        self, domain_id: int, since: int, until: int, bucket_ms: int
    ) -> JobOverview:
        return await self._read_snapshot(
            overview.job_overview(domain_id, since, until, bucket_ms, now_ms())
        )

    # -- retention ------------------------------------------------------------------------

    async def prune_ended_jobs(
        self, policy: RetentionPolicy, *, limit: int = 500, domain: str | None = None
    ) -> PruneCount:
        return await self._write(retention.prune(policy, now_ms(), limit, domain))

    async def count_prunable_jobs(
        self, policy: RetentionPolicy, *, domain: str | None = None
    ) -> list[PrunableJobs]:
        return await self._read_snapshot(retention.count_prunable(policy, now_ms(), domain))
