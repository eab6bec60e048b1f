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
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

import asyncpg

from activitylog import errors
from activitylog.domain.jobs import JobStatus
from activitylog.domain.search import JobQuery
from activitylog.store import postgres_driver
from activitylog.store.batching import Batched
from activitylog.store.changes import JobChange, JobChanges
from activitylog.store.migrate import migrate_postgres
from activitylog.store.operations import StoreOperations
from activitylog.store.postgres_announcer import ChangeAnnouncer
from activitylog.store.postgres_group_commit import (
    LIVE_INSTANCE_NAME,
    MAX_TOGETHER,
    end_jobs_together,
    goes_together,
    job_end,
    submit_create_alone,
    submit_creates_together,
)
from activitylog.store.postgres_listener import EVERY_JOB, NewJobListener
from activitylog.store.postgres_rescuer import RescuerConnection
from activitylog.store.records import ClaimedJob, JobView, OperationRequest, SubmittedJob
from activitylog.store.steps import POSTGRES, Transaction

T = TypeVar("T")

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


class PostgresStore(StoreOperations):
    dialect = POSTGRES

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

    def _job_changed(self, change: JobChange) -> None:
        _publish(self.changes, change)

    def _job_cancelled(self, change: JobChange) -> None:
        _publish(self.cancellations, change)

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
    def connections_in_use(self) -> int | None:
        """Pooled connections acquired right now (/metrics); None while closed."""
        pool = self._pool
        return None if pool is None else int(pool.get_size() - pool.get_idle_size())

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

    async def _write(self, transaction: Transaction[T]) -> T:
        async with self._transaction() as c:
            return await postgres_driver.run(c, transaction)

    async def _read(self, transaction: Transaction[T]) -> T:
        # One statement: one round trip, one snapshot, no transaction to open and close.
        async with self._connection() as c:
            return await postgres_driver.run(c, transaction)

    async def _read_snapshot(self, transaction: Transaction[T]) -> T:
        async with self._transaction(read_only=True) as c:
            return await postgres_driver.run(c, transaction)

    async def _rescue(self, transaction: Transaction[T]) -> T | None:
        """On the rescuer's own connection, only while this process holds its advisory lock."""

        async def rescue(c: Any) -> T:
            async with c.transaction():
                return await postgres_driver.run(c, transaction)

        try:
            return await self._rescuer.run_if_leader(rescue)
        except DRIVER_ERRORS as exc:
            raise translate_error(exc) from exc

    def _can_hold(self, *texts: str) -> bool:
        return _storable(*texts)

    def _wake_workers(self) -> None:
        self._listener.wake()

    def _announce_elsewhere(self, changes: Sequence[JobChange], *, new_job: bool) -> None:
        self._announcer.announce(changes, new_job=new_job)

    async def _run_script(self, script: str) -> None:
        async with self._connection() as connection:
            await connection.execute(script)

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

    # -- group commit: the hot writes that arrive together go together ----------------------

    async def submit_operation(self, request: OperationRequest) -> SubmittedJob:
        if not goes_together(request):
            return await super().submit_operation(request)
        submitted = await self._creates(request)
        if submitted is None:
            submitted = await submit_create_alone(self._connection, request)
        self._announce([JobChange(submitted.job_id, request.domain_id)], new_job=True)
        return submitted

    async def finish_job(
        self, job: ClaimedJob, status: JobStatus, messages: Sequence[str]
    ) -> JobStatus:
        end = job_end(job, status, list(messages))
        if end is None or not await self._ends(end):
            # The long way decides, and says, what a cancellation made of the end.
            return await super().finish_job(job, status, messages)
        self._announce([JobChange(job.job_id, job.domain_id)])
        # Ends written together are exactly those nobody asked to cancel: as requested.
        return status

    async def search_jobs(self, domain_id: int, query: JobQuery) -> tuple[list[JobView], int]:
        storable = _storable_query(query)
        if storable is None:
            return [], 0
        return await super().search_jobs(domain_id, storable)

    async def browse_jobs(
        self, domain_id: int, query: JobQuery
    ) -> tuple[list[JobView], dict[str, int]]:
        storable = _storable_query(query)
        if storable is None:
            return [], {status.value: 0 for status in JobStatus}
        return await super().browse_jobs(domain_id, storable)

    def snapshot_token(self) -> object | None:
        """None: a PostgreSQL change cannot be seen without a round trip, so every job-status
        read goes to the database."""
        return None

    @property
    def is_rescuer(self) -> bool:
        """Whether this process holds the rescuer's advisory lock right now."""
        return self._rescuer.holds_lock

    async def wait_for_new_jobs(self, timeout: float) -> None:
        # The listening connection opens on the first wait: API-only processes never hold one.
        if self._pool is not None:
            self._listener.start()
        await self._listener.wait(timeout)


# -- text PostgreSQL cannot hold ---------------------------------------------------------------
# PostgreSQL text never holds a NUL character (SQLite's may), and refuses even to compare with
# one. No stored row can match such a key, so a read answers "nothing", as SQLite does, rather
# than fail; a write of such text is refused (see translate_error).


def _publish(feed: JobChanges, change: JobChange) -> None:
    if change.job_id == EVERY_JOB:
        feed.publish_to_every_job()
    else:
        feed.publish(change.job_id, change.domain_id)


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


# -- error translation ------------------------------------------------------------------------

_UNIQUE_CONFLICTS: dict[str, Callable[[], errors.ActivityLogError]] = {
    "jobs_one_in_flight_per_service": errors.OperationInFlight,
    LIVE_INSTANCE_NAME: errors.InstanceExists,
    "identity_domains_name_key": lambda: errors.Conflict("That identity domain already exists."),
    "users_domain_id_name_key": lambda: errors.Conflict(
        "That user already exists in this identity domain."
    ),
    "api_tokens_user_id_name_key": lambda: errors.Conflict(
        "That user already has an API token of that name."
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
