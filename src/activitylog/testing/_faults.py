"""FaultyStore: a Store wrapper that injects database faults, for tests of everything above it.

Three faults, each a way real databases fail:

- ``UNAVAILABLE``: the call fails at once with StoreUnavailable; nothing was written.
- ``TIMEOUT``: the call hangs, then fails with StoreUnavailable; nothing was written.
- ``LOST_ANSWER``: the call runs, and commits, but its caller still sees StoreUnavailable, as
  when the connection drops after COMMIT and before the answer arrives.

Faults are queued per method (``inject``), drawn at random (``inject_randomly``), or hit every
call for a while (``outage``). ``open``, ``close`` and ``wait_for_new_jobs`` are never faulted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import inspect
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import TypeVar

from activitylog import errors
from activitylog.domain.audit import AuditQuery
from activitylog.domain.jobs import JobStatus
from activitylog.domain.retention import RetentionPolicy
from activitylog.domain.search import JobQuery
from activitylog.store.base import Store
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

T = TypeVar("T")


class Fault(enum.Enum):
    """A way a database call fails; the value is what the raised StoreUnavailable says."""

    UNAVAILABLE = "the database is unavailable"
    TIMEOUT = "the database did not answer in time"
    LOST_ANSWER = "the write committed but its answer was lost"


_NEVER_FAULTED = frozenset({"open", "close", "wait_for_new_jobs"})


class FaultyStore:
    """Wraps a Store; a Store itself, so the app and the worker take it as they are::

        faulty = FaultyStore(store, hang_seconds=0.05, seed=7)
        faulty.inject("finish_job", Fault.LOST_ANSWER)
        app = create_app(settings, store=faulty)

    A ``TIMEOUT`` hangs ``hang_seconds`` before failing; ``seed`` makes the random faults of
    ``inject_randomly`` the same on every run.
    """

    def __init__(self, store: Store, *, hang_seconds: float = 0.2, seed: int = 0) -> None:
        self.inner = store
        """The wrapped store, never faulted: read through it to check what was written."""
        self.hang_seconds = hang_seconds
        self.injected: list[tuple[str, Fault]] = []
        """Every fault injected so far: (method, fault), in order."""
        self._queued: dict[str, collections.deque[Fault]] = collections.defaultdict(
            collections.deque
        )
        self._random: dict[str, tuple[float, tuple[Fault, ...]]] = {}
        self._rng = random.Random(seed)  # noqa: S311 - test faults, not secrets
        self._outage: Fault | None = None

    # -- planning faults -----------------------------------------------------------------

    def inject(self, method: str, fault: Fault, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` (a Store method's name) fail with
        ``fault``."""
        _check_faultable(method)
        self._queued[method].extend([fault] * times)

    def inject_randomly(
        self, methods: Iterable[str], probability: float, faults: Sequence[Fault]
    ) -> None:
        """Make each call of these methods fail with ``probability``, with one of ``faults``."""
        planned = list(methods)
        for method in planned:
            _check_faultable(method)
        self._random.update((method, (probability, tuple(faults))) for method in planned)

    def clear(self) -> None:
        """Forget every planned fault (``injected`` keeps those already injected)."""
        self._queued.clear()
        self._random.clear()
        self._outage = None

    @contextlib.contextmanager
    def outage(self, fault: Fault = Fault.UNAVAILABLE) -> Iterator[None]:
        """Every call fails with ``fault`` inside the block."""
        self._outage = fault
        try:
            yield
        finally:
            self._outage = None

    def _next_fault(self, method: str) -> Fault | None:
        if self._outage is not None:
            return self._outage
        if self._queued[method]:
            return self._queued[method].popleft()
        probability, faults = self._random.get(method, (0.0, ()))
        if faults and self._rng.random() < probability:
            return self._rng.choice(faults)
        return None

    async def _call(self, method: str, call: Callable[[], Awaitable[T]]) -> T:
        fault = self._next_fault(method)
        if fault is None:
            return await call()
        self.injected.append((method, fault))
        if fault is Fault.TIMEOUT:
            await asyncio.sleep(self.hang_seconds)
        elif fault is Fault.LOST_ANSWER:
            await call()
        raise errors.StoreUnavailable(f"Injected fault in {method}: {fault.value}.")

    # -- the Store protocol, each call through _call ----------------------------------------

    @property
    def changes(self) -> JobChanges:
        return self.inner.changes

    @changes.setter
    def changes(self, feed: JobChanges) -> None:
        self.inner.changes = feed

    @property
    def cancellations(self) -> JobChanges:
        return self.inner.cancellations

    @cancellations.setter
    def cancellations(self, feed: JobChanges) -> None:
        self.inner.cancellations = feed

    async def open(self) -> None:
        await self.inner.open()

    async def close(self) -> None:
        await self.inner.close()

    async def wait_for_new_jobs(self, timeout: float) -> None:
        await self.inner.wait_for_new_jobs(timeout)

    async def create_domain(self, name: str) -> Domain:
        return await self._call("create_domain", lambda: self.inner.create_domain(name))

    async def get_domain(self, name: str) -> Domain | None:
        return await self._call("get_domain", lambda: self.inner.get_domain(name))

    async def list_domains(self) -> list[Domain]:
        return await self._call("list_domains", self.inner.list_domains)

    async def create_user(self, domain_name: str, name: str, password_hash: str, role: str) -> User:
        return await self._call(
            "create_user", lambda: self.inner.create_user(domain_name, name, password_hash, role)
        )

    async def update_user(
        self,
        domain_name: str,
        name: str,
        *,
        password_hash: str | None = None,
        role: str | None = None,
    ) -> User:
        return await self._call(
            "update_user",
            lambda: self.inner.update_user(
                domain_name, name, password_hash=password_hash, role=role
            ),
        )

    async def delete_user(self, domain_name: str, name: str) -> None:
        await self._call("delete_user", lambda: self.inner.delete_user(domain_name, name))

    async def list_users(self, domain_name: str) -> list[User]:
        return await self._call("list_users", lambda: self.inner.list_users(domain_name))

    async def find_user(self, domain_name: str, name: str) -> User | None:
        return await self._call("find_user", lambda: self.inner.find_user(domain_name, name))

    async def create_token(self, token: NewToken, actor: Actor) -> ApiToken:
        return await self._call("create_token", lambda: self.inner.create_token(token, actor))

    async def list_tokens(self, domain_id: int, user_id: int | None = None) -> list[ApiToken]:
        return await self._call("list_tokens", lambda: self.inner.list_tokens(domain_id, user_id))

    async def revoke_token(
        self, domain_id: int, token_id: int, actor: Actor, *, owner_id: int | None = None
    ) -> ApiToken:
        return await self._call(
            "revoke_token",
            lambda: self.inner.revoke_token(domain_id, token_id, actor, owner_id=owner_id),
        )

    async def find_token(self, secret_hash: str) -> TokenGrant | None:
        return await self._call("find_token", lambda: self.inner.find_token(secret_hash))

    async def record_token_use(self, token_ids: Sequence[int]) -> None:
        await self._call("record_token_use", lambda: self.inner.record_token_use(token_ids))

    async def credentials_version(self) -> int:
        return await self._call("credentials_version", self.inner.credentials_version)

    async def record_audit_event(self, event: AuditRecord) -> None:
        await self._call("record_audit_event", lambda: self.inner.record_audit_event(event))

    async def count_failed_sign_in(self, domain_name: str, actor: Actor) -> None:
        await self._call(
            "count_failed_sign_in", lambda: self.inner.count_failed_sign_in(domain_name, actor)
        )

    async def search_audit_events(
        self, domain_id: int, query: AuditQuery
    ) -> tuple[list[AuditEvent], int]:
        return await self._call(
            "search_audit_events", lambda: self.inner.search_audit_events(domain_id, query)
        )

    async def begin_console_session(
        self, session: NewConsoleSession, *, idle_since: int, per_user: int, sweep_limit: int
    ) -> None:
        await self._call(
            "begin_console_session",
            lambda: self.inner.begin_console_session(
                session, idle_since=idle_since, per_user=per_user, sweep_limit=sweep_limit
            ),
        )

    async def find_console_session(
        self, session_hash: str, *, idle_since: int
    ) -> ConsoleSessionGrant | None:
        return await self._call(
            "find_console_session",
            lambda: self.inner.find_console_session(session_hash, idle_since=idle_since),
        )

    async def touch_console_session(self, session_hash: str, now: int) -> None:
        await self._call(
            "touch_console_session", lambda: self.inner.touch_console_session(session_hash, now)
        )

    async def end_console_session(self, session_hash: str) -> None:
        await self._call(
            "end_console_session", lambda: self.inner.end_console_session(session_hash)
        )

    async def sweep_console_sessions(self, *, idle_since: int, limit: int) -> int:
        return await self._call(
            "sweep_console_sessions",
            lambda: self.inner.sweep_console_sessions(idle_since=idle_since, limit=limit),
        )

    async def get_instance(self, domain_id: int, service_type: str, name: str) -> Instance | None:
        return await self._call(
            "get_instance", lambda: self.inner.get_instance(domain_id, service_type, name)
        )

    async def list_instances(self, domain_id: int, service_type: str) -> list[Instance]:
        return await self._call(
            "list_instances", lambda: self.inner.list_instances(domain_id, service_type)
        )

    async def list_instances_with_last_job(
        self, domain_id: int, service_type: str
    ) -> list[InstanceWithLastJob]:
        return await self._call(
            "list_instances_with_last_job",
            lambda: self.inner.list_instances_with_last_job(domain_id, service_type),
        )

    async def submit_operation(self, request: OperationRequest) -> SubmittedJob:
        return await self._call("submit_operation", lambda: self.inner.submit_operation(request))

    async def get_job(self, domain_id: int, job_id: int) -> JobView | None:
        return await self._call("get_job", lambda: self.inner.get_job(domain_id, job_id))

    async def get_job_by_log_id(self, domain_id: int, activity_log_id: int) -> JobView | None:
        return await self._call(
            "get_job_by_log_id", lambda: self.inner.get_job_by_log_id(domain_id, activity_log_id)
        )

    async def search_jobs(self, domain_id: int, query: JobQuery) -> tuple[list[JobView], int]:
        return await self._call("search_jobs", lambda: self.inner.search_jobs(domain_id, query))

    async def browse_jobs(
        self, domain_id: int, query: JobQuery
    ) -> tuple[list[JobView], dict[str, int]]:
        return await self._call("browse_jobs", lambda: self.inner.browse_jobs(domain_id, query))

    async def cancel_job(self, domain_id: int, job_id: int, requested_by: str) -> JobView:
        return await self._call(
            "cancel_job", lambda: self.inner.cancel_job(domain_id, job_id, requested_by)
        )

    async def claim_jobs(
        self,
        owner: str,
        lease_seconds: float,
        limit: int,
        service_types: Sequence[str] | None = None,
    ) -> list[ClaimedJob]:
        return await self._call(
            "claim_jobs", lambda: self.inner.claim_jobs(owner, lease_seconds, limit, service_types)
        )

    async def append_message(self, job: ClaimedJob, text: str) -> None:
        await self._call("append_message", lambda: self.inner.append_message(job, text))

    async def renew_lease(self, job: ClaimedJob, lease_seconds: float) -> str | None:
        return await self._call("renew_lease", lambda: self.inner.renew_lease(job, lease_seconds))

    async def cancel_request(self, job: ClaimedJob) -> str | None:
        return await self._call("cancel_request", lambda: self.inner.cancel_request(job))

    async def set_progress(self, job: ClaimedJob, percent: int) -> None:
        await self._call("set_progress", lambda: self.inner.set_progress(job, percent))

    async def finish_job(
        self, job: ClaimedJob, status: JobStatus, messages: Sequence[str]
    ) -> JobStatus:
        return await self._call("finish_job", lambda: self.inner.finish_job(job, status, messages))

    async def release_job(self, job: ClaimedJob, reason: str) -> None:
        await self._call("release_job", lambda: self.inner.release_job(job, reason))

    async def rescue_expired_jobs(self, live_leases: Sequence[str] = ()) -> list[RescuedJob]:
        return await self._call(
            "rescue_expired_jobs", lambda: self.inner.rescue_expired_jobs(live_leases)
        )

    async def applied_migrations(self) -> list[int]:
        return await self._call("applied_migrations", self.inner.applied_migrations)

    async def waiting_jobs(self) -> tuple[int, int | None]:
        return await self._call("waiting_jobs", self.inner.waiting_jobs)

    async def job_overview(
        self, domain_id: int, since: int, until: int, bucket_ms: int
    ) -> JobOverview:
        return await self._call(
            "job_overview", lambda: self.inner.job_overview(domain_id, since, until, bucket_ms)
        )

    async def prune_ended_jobs(
        self, policy: RetentionPolicy, *, limit: int = 500, domain: str | None = None
    ) -> PruneCount:
        return await self._call(
            "prune_ended_jobs",
            lambda: self.inner.prune_ended_jobs(policy, limit=limit, domain=domain),
        )

    async def count_prunable_jobs(
        self, policy: RetentionPolicy, *, domain: str | None = None
    ) -> list[PrunableJobs]:
        return await self._call(
            "count_prunable_jobs", lambda: self.inner.count_prunable_jobs(policy, domain=domain)
        )


def _check_faultable(method: str) -> None:
    """A misspelt name would plan a fault that never comes, and a test that proves nothing."""
    call = getattr(FaultyStore, method, None)
    if method in _NEVER_FAULTED or method.startswith("_") or not inspect.iscoroutinefunction(call):
        raise ValueError(f"{method!r} is not a Store method that can be faulted")
