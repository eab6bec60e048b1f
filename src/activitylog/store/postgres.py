"""The scale-out store: PostgreSQL through an asyncpg pool, shared by any number of processes.

Every method runs on one pooled connection, in one transaction when it writes or reads more
than one statement. Driver errors are translated here, once, into activitylog.errors: a lost
or unreachable database becomes StoreUnavailable, and the pool reconnects on its next use.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import secrets
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import asyncpg

from activitylog import errors
from activitylog.domain import instances
from activitylog.domain.dates import now_ms
from activitylog.domain.jobs import ENDED_MESSAGE, STARTED_MESSAGE, SUBMITTED_MESSAGE, JobStatus
from activitylog.domain.search import JobQuery
from activitylog.store.changes import JobChanges
from activitylog.store.migrate import migrate_postgres
from activitylog.store.postgres_listener import (
    EVERY_JOB,
    NOTIFY_JOB_CHANGED,
    NOTIFY_NEW_JOB,
    NewJobListener,
)
from activitylog.store.queries import load_numbered_queries
from activitylog.store.records import (
    ClaimedJob,
    Domain,
    Instance,
    JobView,
    Message,
    OperationRequest,
    SubmittedJob,
    User,
    job_view_from_row,
)
from activitylog.store.search_sql import build_search

Q = load_numbered_queries("postgres")

# The page's messages in one statement: `= ANY` takes the id list as a single array parameter.
_MESSAGES_OF_JOBS = (
    "SELECT job_id, activity_date, message FROM job_messages "
    "WHERE job_id = ANY($1::bigint[]) ORDER BY job_id, position"
)

# Everything the driver raises: server errors, client-side errors, sockets and timeouts.
DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)


class PostgresStore:
    def __init__(
        self,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 10,
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
        self._listener = NewJobListener(self._connect_listener, on_job_changed=self._job_changed)

    async def open(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self._min_connections,
                max_size=self._max_connections,
                command_timeout=self._command_timeout,
                timeout=self._connect_timeout,
                server_settings={"application_name": "activitylog"},
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
        # Started now, not on a worker's first wait: API processes need other processes'
        # job changes too, for long-polls and event streams.
        self._listener.start()

    def _job_changed(self, job_id: int) -> None:
        if job_id == EVERY_JOB:
            self.changes.publish_to_every_job()
        else:
            self.changes.publish(job_id)

    async def close(self) -> None:
        self.changes.close()
        await self._listener.close()
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

    async def _connect_listener(self) -> Any:
        return await asyncpg.connect(
            self.url,
            timeout=self._connect_timeout,
            command_timeout=self._command_timeout,
            server_settings={"application_name": "activitylog-listen"},
        )

    # -- identity domains and users ------------------------------------------------------

    async def create_domain(self, name: str) -> Domain:
        async with self._connection() as c:
            row = await _row(c, "insert_domain", name=name, now=now_ms())
        return Domain(row[0], row[1])

    async def get_domain(self, name: str) -> Domain | None:
        if not _storable(name):
            return None
        async with self._connection() as c:
            row = await _row(c, "get_domain", name=name)
        return Domain(row[0], row[1]) if row else None

    async def create_user(self, domain_name: str, name: str, password_hash: str, role: str) -> User:
        async with self._transaction() as c:
            await _row(
                c,
                "insert_user",
                domain_id=await _require_domain(c, domain_name),
                name=name,
                password_hash=password_hash,
                role=role,
                now=now_ms(),
            )
            return _user(await _row(c, "find_user", domain_name=domain_name, name=name))

    async def update_user(
        self,
        domain_name: str,
        name: str,
        *,
        password_hash: str | None = None,
        role: str | None = None,
    ) -> User:
        async with self._transaction() as c:
            updated = await _row(
                c,
                "update_user",
                domain_id=await _require_domain(c, domain_name),
                name=name,
                password_hash=password_hash,
                role=role,
            )
            if updated is None:
                raise errors.NotFound(f"No user [{name}] in identity domain [{domain_name}].")
            return _user(await _row(c, "find_user", domain_name=domain_name, name=name))

    async def delete_user(self, domain_name: str, name: str) -> None:
        async with self._transaction() as c:
            domain_id = await _require_domain(c, domain_name)
            if await _row(c, "delete_user", domain_id=domain_id, name=name) is None:
                raise errors.NotFound(f"No user [{name}] in identity domain [{domain_name}].")

    async def list_users(self, domain_name: str) -> list[User]:
        if not _storable(domain_name):
            return []
        async with self._connection() as c:
            rows = await _rows(c, "list_users", domain_name=domain_name)
        return [_user(row) for row in rows]

    async def find_user(self, domain_name: str, name: str) -> User | None:
        if not _storable(domain_name, name):
            return None
        async with self._connection() as c:
            row = await _row(c, "find_user", domain_name=domain_name, name=name)
        return _user(row) if row else None

    # -- service instances ---------------------------------------------------------------

    async def get_instance(self, domain_id: int, service_type: str, name: str) -> Instance | None:
        if not _storable(service_type, name):
            return None
        async with self._connection() as c:
            row = await _row(
                c, "get_live_instance", domain_id=domain_id, service_type=service_type, name=name
            )
        return _instance(row) if row else None

    async def list_instances(self, domain_id: int, service_type: str) -> list[Instance]:
        if not _storable(service_type):
            return []
        async with self._connection() as c:
            rows = await _rows(
                c, "list_live_instances", domain_id=domain_id, service_type=service_type
            )
        return [_instance(row) for row in rows]

    # -- jobs, API side ------------------------------------------------------------------

    async def submit_operation(self, request: OperationRequest) -> SubmittedJob:
        async with self._transaction() as c:
            submitted = await _submit(c, request, now_ms())
            # Delivered at COMMIT to every listening process, this one included.
            await c.execute(NOTIFY_NEW_JOB)
            await c.execute(NOTIFY_JOB_CHANGED, str(submitted.job_id))
        self._listener.wake()
        self.changes.publish(submitted.job_id)
        return submitted

    async def get_job(self, domain_id: int, job_id: int) -> JobView | None:
        async with self._transaction(read_only=True) as c:
            row = await _row(c, "get_job", job_id=job_id, domain_id=domain_id)
            return await _job_view(c, row)

    async def get_job_by_log_id(self, domain_id: int, activity_log_id: int) -> JobView | None:
        async with self._transaction(read_only=True) as c:
            row = await _row(
                c, "get_job_by_log_id", activity_log_id=activity_log_id, domain_id=domain_id
            )
            return await _job_view(c, row)

    async def search_jobs(self, domain_id: int, query: JobQuery) -> tuple[list[JobView], int]:
        storable = _storable_query(query)
        if storable is None:
            return [], 0
        sql = build_search(domain_id, storable, lambda n: f"${n}")
        async with self._transaction(read_only=True) as c:
            total = await c.fetchval(sql.count, *sql.params)
            rows = await c.fetch(sql.page, *sql.page_params)
            return await _with_messages(c, rows), total

    # -- jobs, engine side ---------------------------------------------------------------

    async def claim_next_job(self, owner: str, lease_seconds: float) -> ClaimedJob | None:
        token = secrets.token_hex(8)
        now = now_ms()
        async with self._transaction() as c:
            row = await _row(
                c,
                "claim_next_job",
                token=token,
                owner=owner,
                now=now,
                expires_at=now + int(lease_seconds * 1000),
            )
            if row is None:
                return None
            job_id, attempt, service_id, name, stype, domain, operation, parameters, count = row
            await _insert_messages(c, job_id, count, [STARTED_MESSAGE], now)
            await c.execute(NOTIFY_JOB_CHANGED, str(job_id))
        self.changes.publish(job_id)
        return ClaimedJob(
            job_id,
            attempt,
            token,
            service_id,
            name,
            stype,
            domain,
            operation,
            json.loads(parameters),
        )

    async def append_message(self, job: ClaimedJob, text: str) -> None:
        now = now_ms()
        async with self._transaction() as c:
            count = await _value(
                c,
                "reserve_message_positions",
                job_id=job.job_id,
                token=job.lease_token,
                now=now,
                count=1,
            )
            if count is None:
                raise errors.LeaseLost()
            await _insert_messages(c, job.job_id, count, [text], now)
            await c.execute(NOTIFY_JOB_CHANGED, str(job.job_id))
        self.changes.publish(job.job_id)

    async def set_progress(self, job: ClaimedJob, percent: int) -> None:
        async with self._transaction() as c:
            recorded = await _row(
                c,
                "set_progress",
                job_id=job.job_id,
                token=job.lease_token,
                now=now_ms(),
                percent=percent,
            )
            if recorded is None:
                raise errors.LeaseLost()
            await c.execute(NOTIFY_JOB_CHANGED, str(job.job_id))
        self.changes.publish(job.job_id)

    async def renew_lease(self, job: ClaimedJob, lease_seconds: float) -> None:
        now = now_ms()
        async with self._connection() as c:
            renewed = await _row(
                c,
                "renew_lease",
                job_id=job.job_id,
                token=job.lease_token,
                now=now,
                expires_at=now + int(lease_seconds * 1000),
            )
        if renewed is None:
            raise errors.LeaseLost()

    async def finish_job(self, job: ClaimedJob, status: JobStatus, messages: Sequence[str]) -> None:
        async with self._transaction() as c:
            await _finish(c, job, status, [*messages, ENDED_MESSAGE])
            await c.execute(NOTIFY_JOB_CHANGED, str(job.job_id))
        self.changes.publish(job.job_id)

    async def wait_for_new_jobs(self, timeout: float) -> None:
        # The listening connection opens on the first wait: API-only processes never hold one.
        if self._pool is not None:
            self._listener.start()
        await self._listener.wait(timeout)


# -- transaction bodies -----------------------------------------------------------------------


async def _submit(c: Any, request: OperationRequest, now: int) -> SubmittedJob:
    row = await _row(
        c,
        "lock_live_instance",
        domain_id=request.domain_id,
        service_type=request.service_type,
        name=request.service_name,
    )
    if request.operation_type == instances.OperationType.CREATE_SERVICE:
        if row is not None:
            raise errors.InstanceExists(
                f"Service [{request.service_name}] already exists in identity domain "
                f"[{request.identity_domain}]."
            )
        previous = instances.InstanceState.CREATING
        # A concurrent create of the same name waits here on the unique index, then fails.
        service_id = await _value(
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
        await _execute(c, "set_instance_state", state=state, now=now, service_id=service_id)
    log_id = await _value(c, "next_activity_log_id")
    job_id = await _value(
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
        now=now,
    )
    await _insert_messages(c, job_id, 1, [SUBMITTED_MESSAGE], now)
    return SubmittedJob(job_id, log_id, service_id)


async def _refuse_if_in_flight(c: Any, service_id: int, service_name: str) -> None:
    in_flight = await _value(c, "job_in_flight", service_id=service_id)
    if in_flight is not None:
        raise errors.OperationInFlight(
            f"Service [{service_name}] has operation job [{in_flight}] in progress; "
            "wait for it to end, then retry."
        )


async def _finish(c: Any, job: ClaimedJob, status: JobStatus, messages: list[str]) -> None:
    now = now_ms()
    row = await _row(
        c,
        "end_job",
        status=status,
        now=now,
        count=len(messages),
        job_id=job.job_id,
        token=job.lease_token,
    )
    if row is None:
        raise errors.LeaseLost()
    count, service_id, operation, previous, job_parameters = row
    await _insert_messages(c, job.job_id, count - len(messages) + 1, messages, now)
    state = instances.state_on_end(operation, status, instances.InstanceState(previous))
    await _execute(c, "set_instance_state", state=state, now=now, service_id=service_id)
    if status is not JobStatus.FAILED and operation == instances.OperationType.SCALE_SERVICE:
        current = json.loads(await _value(c, "get_instance_parameters", service_id=service_id))
        merged = json.dumps({**current, **json.loads(job_parameters)})
        await _execute(
            c, "set_instance_parameters", parameters=merged, now=now, service_id=service_id
        )


async def _insert_messages(
    c: Any, job_id: int, first_position: int, texts: Sequence[str], now: int
) -> None:
    query = Q["insert_message"]
    await c.executemany(
        query.sql,
        [
            query.arguments(
                {"job_id": job_id, "position": first_position + i, "now": now, "message": text}
            )
            for i, text in enumerate(texts)
        ],
    )


async def _require_domain(c: Any, name: str) -> int:
    row = await _row(c, "get_domain", name=name)
    if row is None:
        raise errors.NotFound(
            f"No identity domain [{name}]; create it with `activitylog domain add`."
        )
    return int(row[0])


# -- running named queries --------------------------------------------------------------------


async def _row(c: Any, query: str, /, **params: Any) -> Any:
    named = Q[query]
    return await c.fetchrow(named.sql, *named.arguments(params))


async def _rows(c: Any, query: str, /, **params: Any) -> list[Any]:
    named = Q[query]
    rows: list[Any] = await c.fetch(named.sql, *named.arguments(params))
    return rows


async def _value(c: Any, query: str, /, **params: Any) -> Any:
    named = Q[query]
    return await c.fetchval(named.sql, *named.arguments(params))


async def _execute(c: Any, query: str, /, **params: Any) -> None:
    named = Q[query]
    await c.execute(named.sql, *named.arguments(params))


# -- text PostgreSQL cannot hold ---------------------------------------------------------------
# PostgreSQL text never holds a NUL character (SQLite's may), and refuses even to compare with
# one. No stored row can match such a key, so a read answers "nothing", as SQLite does, rather
# than fail; a write of such text is refused (see translate_error).


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


async def _job_view(c: Any, row: Sequence[Any] | None) -> JobView | None:
    if row is None:
        return None
    messages = tuple(Message(*m) for m in await _rows(c, "job_messages", job_id=row[5]))
    return job_view_from_row(row, messages)


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
    "service_instances_live_name": errors.InstanceExists,
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
