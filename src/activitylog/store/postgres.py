"""The scale-out store: PostgreSQL through an asyncpg pool, shared by any number of processes.

Every method runs on one pooled connection, in one transaction when it writes or reads more
than one statement. Driver errors are translated here, once, into activitylog.errors: a lost
or unreachable database becomes StoreUnavailable, and the pool reconnects on its next use.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import asyncpg

from activitylog import errors
from activitylog.domain.dates import now_ms
from activitylog.domain.jobs import STARTED_MESSAGE, JobStatus
from activitylog.domain.search import JobQuery
from activitylog.store import postgres_jobs
from activitylog.store.batching import Batched
from activitylog.store.changes import JobChanges
from activitylog.store.migrate import migrate_postgres
from activitylog.store.postgres_announcer import ChangeAnnouncer
from activitylog.store.postgres_listener import (
    EVERY_JOB,
    NOTIFY_JOB_CANCELLED,
    NOTIFY_JOB_CHANGED,
    NOTIFY_NEW_JOB,
    NewJobListener,
)
from activitylog.store.postgres_rescuer import RescuerConnection
from activitylog.store.postgres_statements import (
    fetch_row,
    fetch_rows,
    fetch_value,
    insert_messages,
)
from activitylog.store.postgres_together import (
    MAX_TOGETHER,
    end_jobs_together,
    goes_together,
    job_end,
    submit_create_alone,
    submit_creates_together,
)
from activitylog.store.records import (
    ClaimedJob,
    Domain,
    Instance,
    JobView,
    Message,
    OperationRequest,
    RescuedJob,
    SubmittedJob,
    User,
    claimed_job,
    job_view_from_row,
    job_view_with_messages,
)
from activitylog.store.search_sql import build_search

# The page's messages in one statement: `= ANY` takes the id list as a single array parameter.
_MESSAGES_OF_JOBS = (
    "SELECT job_id, activity_date, message FROM job_messages "
    "WHERE job_id = ANY($1::bigint[]) ORDER BY job_id, position"
)

# Before claim_jobs, in its transaction. A queue's statistics rarely say how many jobs wait, and
# with bitmap scans allowed the planner read and sorted every NEW job to claim a few of them:
# 1.8 ms a claim with a few thousand jobs waiting, against 0.5 ms walking the claim index in
# order (EXPLAIN ANALYZE).
CLAIM_IN_INDEX_ORDER = "SET LOCAL enable_bitmapscan = off"

# Everything the driver raises: server errors, client-side errors, sockets and timeouts.
DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)


async def _nothing_to_reset(connection: Any) -> None:
    """The pool's reset on release. asyncpg's default sends one more query (unlock advisory
    locks, close cursors, UNLISTEN, RESET ALL), a round trip on every call; pooled connections
    do none of those (the listener and the rescuer have connections of their own), and asyncpg
    still rolls back a transaction left open."""


class PostgresStore:
    def __init__(
        self,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 20,
        command_timeout: float = 30.0,
        acquire_timeout: float = 10.0,
        connect_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self._min_connections = min_connections
        self._max_connections = max_connections
        self._command_timeout = command_timeout
        self._acquire_timeout = acquire_timeout
        self._connect_timeout = connect_timeout
        self._pool: Any = None
        self.changes = JobChanges()
        self.cancellations = JobChanges()
        self._listener = NewJobListener(
            self._connect_listener,
            on_job_changed=self._job_changed,
            on_job_cancelled=self._job_cancelled,
        )
        self._announcer = ChangeAnnouncer(self._run_script)
        self._ends = Batched(
            functools.partial(end_jobs_together, self._connection), limit=MAX_TOGETHER
        )
        self._creates = Batched(
            functools.partial(submit_creates_together, self._connection), limit=MAX_TOGETHER
        )
        self._rescuer = RescuerConnection(lambda: self._connect_dedicated("activitylog-rescue"))

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self._min_connections,
                max_size=self._max_connections,
                command_timeout=self._command_timeout,
                timeout=self._connect_timeout,
                server_settings={"application_name": "activitylog"},
                reset=_nothing_to_reset,
            )
        except DRIVER_ERRORS as exc:
            raise translate_error(exc) from exc
        try:
            async with self._connection() as c:
                await migrate_postgres(c)
        except BaseException:
            await self.close()
            raise
        self.changes = JobChanges()
        self.cancellations = JobChanges()
        # Started now, not on a worker's first wait: API processes need other processes'
        # job changes too, for long-polls and event streams.
        self._listener.start()
        self._announcer.start()

    def _job_changed(self, job_id: int) -> None:
        _publish(self.changes, job_id)

    def _job_cancelled(self, job_id: int) -> None:
        _publish(self.cancellations, job_id)

    async def close(self) -> None:
        self.changes.close()
        self.cancellations.close()
        await self._announcer.close()
        await self._listener.close()
        self._rescuer.drop()
        pool, self._pool = self._pool, None
        if pool is None:
            return
        try:
            await asyncio.wait_for(pool.close(), self._command_timeout)
        except DRIVER_ERRORS:
            pool.terminate()

    @property
    def listening(self) -> bool:
        """Whether the LISTEN connection that wakes idle workers is up right now."""
        return self._listener.listening.is_set()

    # -- plumbing ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[Any]:
        """A pooled connection; driver errors raised while it is held leave translated."""
        pool = self._pool
        if pool is None:
            raise errors.StoreUnavailable("The store is not open.")
        try:
            async with pool.acquire(timeout=self._acquire_timeout) as connection:
                yield connection
        except DRIVER_ERRORS as exc:
            raise translate_error(exc) from exc

    @contextlib.asynccontextmanager
    async def _transaction(self, *, read_only: bool = False) -> AsyncIterator[Any]:
        """A transaction; a read-only one sees one snapshot throughout, as on SQLite."""
        async with self._connection() as connection:
            isolation = "repeatable_read" if read_only else "read_committed"
            async with connection.transaction(isolation=isolation, readonly=read_only):
                yield connection

    async def _run_script(self, script: str) -> None:
        async with self._connection() as connection:
            await connection.execute(script)

    def _announce(self, job_ids: Sequence[int], *, new_job: bool = False) -> None:
        """This process's waiters now; other processes' once the announcer has sent it."""
        for job_id in job_ids:
            self.changes.publish(job_id)
        if new_job:
            self._listener.wake()
        self._announcer.announce(job_ids, new_job=new_job)

    async def _connect_listener(self) -> Any:
        return await self._connect_dedicated("activitylog-listen")

    async def _connect_dedicated(self, application_name: str) -> Any:
        """A connection of its own, outside the pool, for a session that must stay put."""
        return await asyncpg.connect(
            self.url,
            timeout=self._connect_timeout,
            command_timeout=self._command_timeout,
            server_settings={"application_name": application_name},
        )

    # -- identity domains and users ------------------------------------------------------

    async def create_domain(self, name: str) -> Domain:
        async with self._connection() as c:
            row = await fetch_row(c, "insert_domain", name=name, now=now_ms())
        return Domain(row[0], row[1])

    async def get_domain(self, name: str) -> Domain | None:
        if not _storable(name):
            return None
        async with self._connection() as c:
            row = await fetch_row(c, "get_domain", name=name)
        return Domain(row[0], row[1]) if row else None

    async def create_user(self, domain_name: str, name: str, password_hash: str, role: str) -> User:
        async with self._transaction() as c:
            await fetch_row(
                c,
                "insert_user",
                domain_id=await _require_domain(c, domain_name),
                name=name,
                password_hash=password_hash,
                role=role,
                now=now_ms(),
            )
            return _user(await fetch_row(c, "find_user", domain_name=domain_name, name=name))

    async def update_user(
        self,
        domain_name: str,
        name: str,
        *,
        password_hash: str | None = None,
        role: str | None = None,
    ) -> User:
        async with self._transaction() as c:
            updated = await fetch_row(
                c,
                "update_user",
                domain_id=await _require_domain(c, domain_name),
                name=name,
                password_hash=password_hash,
                role=role,
            )
            if updated is None:
                raise errors.NotFound(f"No user [{name}] in identity domain [{domain_name}].")
            return _user(await fetch_row(c, "find_user", domain_name=domain_name, name=name))

    async def delete_user(self, domain_name: str, name: str) -> None:
        async with self._transaction() as c:
            domain_id = await _require_domain(c, domain_name)
            if await fetch_row(c, "delete_user", domain_id=domain_id, name=name) is None:
                raise errors.NotFound(f"No user [{name}] in identity domain [{domain_name}].")

    async def list_users(self, domain_name: str) -> list[User]:
        if not _storable(domain_name):
            return []
        async with self._connection() as c:
            rows = await fetch_rows(c, "list_users", domain_name=domain_name)
        return [_user(row) for row in rows]

    async def find_user(self, domain_name: str, name: str) -> User | None:
        if not _storable(domain_name, name):
            return None
        async with self._connection() as c:
            row = await fetch_row(c, "find_user", domain_name=domain_name, name=name)
        return _user(row) if row else None

    # -- service instances ---------------------------------------------------------------

    async def get_instance(self, domain_id: int, service_type: str, name: str) -> Instance | None:
        if not _storable(service_type, name):
            return None
        async with self._connection() as c:
            row = await fetch_row(
                c, "get_live_instance", domain_id=domain_id, service_type=service_type, name=name
            )
        return _instance(row) if row else None

    async def list_instances(self, domain_id: int, service_type: str) -> list[Instance]:
        if not _storable(service_type):
            return []
        async with self._connection() as c:
            rows = await fetch_rows(
                c, "list_live_instances", domain_id=domain_id, service_type=service_type
            )
        return [_instance(row) for row in rows]

    # -- jobs, API side ------------------------------------------------------------------

    async def submit_operation(self, request: OperationRequest) -> SubmittedJob:
        if goes_together(request):
            together = await self._creates(request)
            if together is not None:
                submitted = together
            else:
                submitted = await submit_create_alone(self._connection, request)
        else:
            async with self._transaction() as c:
                submitted = await postgres_jobs.submit(c, request, now_ms())
        if not submitted.replayed:
            self._announce([submitted.job_id], new_job=True)
        return submitted

    def snapshot_token(self) -> object | None:
        """None: a PostgreSQL change cannot be seen without a round trip, so every job-status
        read goes to the database."""
        return None

    async def get_job(self, domain_id: int, job_id: int) -> JobView | None:
        # One statement: one round trip, one snapshot, no transaction to open and close.
        async with self._connection() as c:
            row = await fetch_row(c, "get_job", job_id=job_id, domain_id=domain_id)
        return job_view_with_messages(row)

    async def get_job_by_log_id(self, domain_id: int, activity_log_id: int) -> JobView | None:
        async with self._connection() as c:
            row = await fetch_row(
                c, "get_job_by_log_id", activity_log_id=activity_log_id, domain_id=domain_id
            )
        return job_view_with_messages(row)

    async def search_jobs(self, domain_id: int, query: JobQuery) -> tuple[list[JobView], int]:
        storable = _storable_query(query)
        if storable is None:
            return [], 0
        sql = build_search(domain_id, storable, lambda n: f"${n}")
        async with self._transaction(read_only=True) as c:
            total = await c.fetchval(sql.count, *sql.params)
            rows = await c.fetch(sql.page, *sql.page_params)
            return await _with_messages(c, rows), total

    async def cancel_job(self, domain_id: int, job_id: int, requested_by: str) -> JobView:
        async with self._transaction() as c:
            view = await postgres_jobs.cancel(c, domain_id, job_id, requested_by)
            await c.execute(NOTIFY_JOB_CHANGED, str(job_id))
            await c.execute(NOTIFY_JOB_CANCELLED, str(job_id))
        self.changes.publish(job_id)
        self.cancellations.publish(job_id)
        return view

    # -- jobs, engine side ---------------------------------------------------------------

    async def claim_jobs(
        self,
        owner: str,
        lease_seconds: float,
        limit: int,
        service_types: Sequence[str] | None = None,
    ) -> list[ClaimedJob]:
        now = now_ms()
        async with self._transaction() as c:
            await c.execute(CLAIM_IN_INDEX_ORDER)
            rows = await fetch_rows(
                c,
                "claim_jobs",
                token_prefix=f"{secrets.token_hex(8)}-",
                owner=owner,
                now=now,
                expires_at=now + int(lease_seconds * 1000),
                limit=limit,
                service_types=None if service_types is None else list(service_types),
                started_message=STARTED_MESSAGE,
            )
        if not rows:
            return []
        self._announce([row[0] for row in rows])
        return [claimed_job(row) for row in rows]

    async def append_message(self, job: ClaimedJob, text: str) -> None:
        now = now_ms()
        async with self._transaction() as c:
            count = await fetch_value(
                c,
                "reserve_message_positions",
                job_id=job.job_id,
                token=job.lease_token,
                now=now,
                count=1,
            )
            if count is None:
                raise errors.LeaseLost()
            await insert_messages(c, job.job_id, count, [text], now)
        self._announce([job.job_id])

    async def set_progress(self, job: ClaimedJob, percent: int) -> None:
        async with self._transaction() as c:
            recorded = await fetch_row(
                c,
                "set_progress",
                job_id=job.job_id,
                token=job.lease_token,
                now=now_ms(),
                percent=percent,
            )
            if recorded is None:
                raise errors.LeaseLost()
        self._announce([job.job_id])

    async def renew_lease(self, job: ClaimedJob, lease_seconds: float) -> str | None:
        now = now_ms()
        async with self._connection() as c:
            renewed = await fetch_row(
                c,
                "renew_lease",
                job_id=job.job_id,
                token=job.lease_token,
                now=now,
                expires_at=now + int(lease_seconds * 1000),
            )
        if renewed is None:
            raise errors.LeaseLost()
        return renewed[0]  # type: ignore[no-any-return]

    async def cancel_request(self, job: ClaimedJob) -> str | None:
        async with self._connection() as c:
            row = await fetch_row(c, "job_cancel_request", job_id=job.job_id, token=job.lease_token)
        if row is None:
            raise errors.LeaseLost()
        return row[0]  # type: ignore[no-any-return]

    async def finish_job(self, job: ClaimedJob, status: JobStatus, messages: Sequence[str]) -> None:
        end = job_end(job, status, list(messages))
        if end is None or not await self._ends(end):
            async with self._transaction() as c:
                await postgres_jobs.finish(c, job, status, list(messages))
        self._announce([job.job_id])

    async def release_job(self, job: ClaimedJob, reason: str) -> None:
        async with self._transaction() as c:
            requeued = await postgres_jobs.release(c, job, reason)
            if requeued:
                await c.execute(NOTIFY_NEW_JOB)
            await c.execute(NOTIFY_JOB_CHANGED, str(job.job_id))
        if requeued:
            self._listener.wake()
        self.changes.publish(job.job_id)

    async def rescue_expired_jobs(self) -> list[RescuedJob]:
        async def rescue(c: Any) -> list[RescuedJob]:
            async with c.transaction():
                rescued = await postgres_jobs.rescue_expired(c, now_ms())
                if any(job.status == JobStatus.NEW for job in rescued):
                    await c.execute(NOTIFY_NEW_JOB)
            return rescued

        try:
            rescued = await self._rescuer.run_if_leader(rescue) or []
        except DRIVER_ERRORS as exc:
            raise translate_error(exc) from exc
        for job in rescued:
            self.changes.publish(job.job_id)
        if any(job.status == JobStatus.NEW for job in rescued):
            self._listener.wake()
        return rescued

    @property
    def is_rescuer(self) -> bool:
        """Whether this process holds the rescuer's advisory lock right now."""
        return self._rescuer.holds_lock

    async def wait_for_new_jobs(self, timeout: float) -> None:
        # The listening connection opens on the first wait: API-only processes never hold one.
        if self._pool is not None:
            self._listener.start()
        await self._listener.wait(timeout)


# -- transaction bodies -----------------------------------------------------------------------


async def _require_domain(c: Any, name: str) -> int:
    row = await fetch_row(c, "get_domain", name=name)
    if row is None:
        raise errors.NotFound(
            f"No identity domain [{name}]; create it with `activitylog domain add`."
        )
    return int(row[0])


# -- text PostgreSQL cannot hold ---------------------------------------------------------------
# PostgreSQL text never holds a NUL character (SQLite's may), and refuses even to compare with
# one. No stored row can match such a key, so a read answers "nothing", as SQLite does, rather
# than fail; a write of such text is refused (see translate_error).


def _publish(feed: JobChanges, job_id: int) -> None:
    if job_id == EVERY_JOB:
        feed.publish_to_every_job()
    else:
        feed.publish(job_id)


def _storable(*texts: str) -> bool:
    return not any("\x00" in text for text in texts)


def _storable_query(query: JobQuery) -> JobQuery | None:
    """The query without the values no stored job can have; None when nothing can match."""
    if not _storable(query.service_name or "", query.service_type or ""):
        return None
    statuses = tuple(s for s in query.statuses if _storable(s))
    operation_types = tuple(o for o in query.operation_types if _storable(o))
    if len(statuses) < len(query.statuses) and not statuses:
        return None
    if len(operation_types) < len(query.operation_types) and not operation_types:
        return None
    return dataclasses.replace(query, statuses=statuses, operation_types=operation_types)


# -- row mapping ------------------------------------------------------------------------------


def _user(row: Sequence[Any]) -> User:
    return User(*row)


def _instance(row: Sequence[Any]) -> Instance:
    values = list(row)
    values[6] = json.loads(values[6])
    return Instance(*values)


async def _with_messages(c: Any, rows: list[Sequence[Any]]) -> list[JobView]:
    if not rows:
        return []
    ids = [row[5] for row in rows]
    by_job: dict[int, list[Message]] = {job_id: [] for job_id in ids}
    for job_id, date, text in await c.fetch(_MESSAGES_OF_JOBS, ids):
        by_job[job_id].append(Message(date, text))
    return [job_view_from_row(row, tuple(by_job[row[5]])) for row in rows]


# -- error translation ------------------------------------------------------------------------

_UNIQUE_CONFLICTS: dict[str, Callable[[], errors.ActivityLogError]] = {
    "jobs_one_in_flight_per_service": errors.OperationInFlight,
    postgres_jobs.LIVE_INSTANCE_NAME: errors.InstanceExists,
    "identity_domains_name_key": lambda: errors.Conflict("That identity domain already exists."),
    "users_domain_id_name_key": lambda: errors.Conflict(
        "That user already exists in this identity domain."
    ),
}
_BUSY: tuple[type[BaseException], ...] = (
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.LockNotAvailableError,
)
_UNREACHABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.TooManyConnectionsError,
)


def translate_error(exc: BaseException) -> errors.ActivityLogError:
    """Map an asyncpg (or socket) error to the most specific activitylog error."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        make = _UNIQUE_CONFLICTS.get(exc.constraint_name or "")
        return make() if make else errors.Conflict(f"The change conflicts with stored data: {exc}")
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return errors.Conflict(f"The change conflicts with stored data: {exc}")
    if isinstance(exc, asyncpg.CharacterNotInRepertoireError):
        return errors.InvalidRequest("Text with a NUL character cannot be stored.")
    if isinstance(exc, _BUSY):
        return errors.StoreUnavailable("The database is busy; retry shortly.")
    if isinstance(exc, (TimeoutError, asyncpg.QueryCanceledError)):
        return errors.StoreUnavailable("The database did not answer in time; retry shortly.")
    if isinstance(exc, _UNREACHABLE):
        return errors.StoreUnavailable("The database cannot be reached right now; retry shortly.")
    return errors.StoreUnavailable(f"The database failed: {exc}")
