"""The embedded store: one SQLite file in WAL mode.

Writes go to one writer thread (see sqlite_writer). Point reads run inline on the event
loop's own connection, which costs about 10 µs, far less than a hop to a thread; searches,
which can scan, run on a small reader pool.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import secrets
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from activitylog import errors
from activitylog.domain.dates import now_ms
from activitylog.domain.jobs import STARTED_MESSAGE, JobStatus
from activitylog.domain.search import JobQuery
from activitylog.store import sqlite_jobs
from activitylog.store.changes import JobChanges
from activitylog.store.migrate import migrate_sqlite
from activitylog.store.queries import load_queries
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
from activitylog.store.sqlite_wal_index import WalIndexWatch
from activitylog.store.sqlite_writer import SQLiteWriter

T = TypeVar("T")
Q = load_queries("sqlite")


class SQLiteStore:
    def __init__(self, path: str, *, synchronous: str = "FULL") -> None:
        self.path = path
        self._synchronous = synchronous
        self._reader: sqlite3.Connection | None = None
        # The reader's cursor for snapshot_token, kept: a fresh one per call costs more.
        self._token_cursor: sqlite3.Cursor | None = None
        self._wal_index: WalIndexWatch | None = None
        self._writer = SQLiteWriter(self._connect, translate_error)
        self._pool = concurrent.futures.ThreadPoolExecutor(2, "activitylog-sqlite-reader")
        self._pool_local = threading.local()
        self._new_job = asyncio.Event()
        # data_version counts per connection: tokens of earlier openings must never match.
        self._openings = 0
        self.changes = JobChanges()
        """Changes made by this process; other processes on the same file are not seen."""
        self.cancellations = JobChanges()
        """Cancellations asked in this process; a worker elsewhere learns at its next renewal."""

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10.0
        )
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute("PRAGMA busy_timeout = 10000")
        return connection

    async def open(self) -> None:
        try:
            migrator = self._connect()
            try:
                migrate_sqlite(migrator)
            finally:
                migrator.close()
            self._reader = self._connect()
            self._token_cursor = self._reader.cursor()
            self._openings += 1
            self._wal_index = WalIndexWatch.open(self.path)
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc
        # Fresh per opening, so that a store closed by one lifespan can be opened by the next.
        self._writer = SQLiteWriter(self._connect, translate_error)
        self._writer.start()
        self._pool = concurrent.futures.ThreadPoolExecutor(2, "activitylog-sqlite-reader")
        self._pool_local = threading.local()
        self.changes = JobChanges()
        self.cancellations = JobChanges()

    async def close(self) -> None:
        self.changes.close()
        self.cancellations.close()
        await asyncio.to_thread(self._writer.stop)
        self._pool.shutdown(wait=True)
        self._token_cursor = None
        if self._wal_index is not None:
            self._wal_index.close()
            self._wal_index = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- plumbing ------------------------------------------------------------------------

    def _read_one(self, sql: str, params: dict[str, Any]) -> Any:
        """A point read, inline: one statement, which alone sees one snapshot (no BEGIN)."""
        return self._read(sql, params, lambda cursor: cursor.fetchone())

    def _read_all(self, sql: str, params: dict[str, Any]) -> list[Any]:
        rows: list[Any] = self._read(sql, params, lambda cursor: cursor.fetchall())
        return rows

    def _read(self, sql: str, params: dict[str, Any], fetch: Callable[[sqlite3.Cursor], T]) -> T:
        connection = self._reader
        if connection is None:
            raise errors.StoreUnavailable("The store is not open.")
        try:
            return fetch(connection.execute(sql, params))
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc

    def snapshot_token(self) -> object | None:
        """The file's WAL-index header (sqlite_wal_index), which changes with every commit by
        any connection of any process; where it cannot be read, SQLite's data_version on the
        read connection, which changes whenever another connection commits (the reader never
        writes). The header costs well under a microsecond; data_version about 3 µs, and a
        release of the GIL."""
        if self._wal_index is not None:
            return (self._openings, self._wal_index.header())
        cursor = self._token_cursor
        if cursor is None:
            return None
        try:
            version = cursor.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            return None  # the read that follows reports the failure
        return (self._openings, version)

    async def _read_in_pool(self, function: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            connection = getattr(self._pool_local, "connection", None)
            if connection is None:
                connection = self._pool_local.connection = self._connect()
            connection.execute("BEGIN")
            try:
                return function(connection)
            finally:
                connection.execute("COMMIT")

        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, run)
        except sqlite3.Error as exc:
            raise translate_error(exc) from exc

    # -- identity domains and users ------------------------------------------------------

    async def create_domain(self, name: str) -> Domain:
        def insert(c: sqlite3.Connection) -> Domain:
            domain_id, stored_name = c.execute(
                Q["insert_domain"], {"name": name, "now": now_ms()}
            ).fetchone()
            return Domain(domain_id, stored_name)

        return await self._writer.write(insert)

    async def get_domain(self, name: str) -> Domain | None:
        row = self._read_one(Q["get_domain"], {"name": name})
        return Domain(*row) if row else None

    async def create_user(self, domain_name: str, name: str, password_hash: str, role: str) -> User:
        def insert(c: sqlite3.Connection) -> User:
            domain = _require_domain(c, domain_name)
            c.execute(
                Q["insert_user"],
                {
                    "domain_id": domain,
                    "name": name,
                    "password_hash": password_hash,
                    "role": role,
                    "now": now_ms(),
                },
            )
            return _user(
                c.execute(Q["find_user"], {"domain_name": domain_name, "name": name}).fetchone()
            )

        return await self._writer.write(insert)

    async def update_user(
        self,
        domain_name: str,
        name: str,
        *,
        password_hash: str | None = None,
        role: str | None = None,
    ) -> User:
        def update(c: sqlite3.Connection) -> User:
            params = {
                "domain_id": _require_domain(c, domain_name),
                "name": name,
                "password_hash": password_hash,
                "role": role,
            }
            if c.execute(Q["update_user"], params).fetchone() is None:
                raise errors.NotFound(f"No user [{name}] in identity domain [{domain_name}].")
            return _user(
                c.execute(Q["find_user"], {"domain_name": domain_name, "name": name}).fetchone()
            )

        return await self._writer.write(update)

    async def delete_user(self, domain_name: str, name: str) -> None:
        def delete(c: sqlite3.Connection) -> None:
            params = {"domain_id": _require_domain(c, domain_name), "name": name}
            if c.execute(Q["delete_user"], params).fetchone() is None:
                raise errors.NotFound(f"No user [{name}] in identity domain [{domain_name}].")

        await self._writer.write(delete)

    async def list_users(self, domain_name: str) -> list[User]:
        rows = self._read_all(Q["list_users"], {"domain_name": domain_name})
        return [_user(row) for row in rows]

    async def find_user(self, domain_name: str, name: str) -> User | None:
        row = self._read_one(Q["find_user"], {"domain_name": domain_name, "name": name})
        return _user(row) if row else None

    # -- service instances ---------------------------------------------------------------

    async def get_instance(self, domain_id: int, service_type: str, name: str) -> Instance | None:
        params = {"domain_id": domain_id, "service_type": service_type, "name": name}
        row = self._read_one(Q["get_live_instance"], params)
        return _instance(row) if row else None

    async def list_instances(self, domain_id: int, service_type: str) -> list[Instance]:
        params = {"domain_id": domain_id, "service_type": service_type}
        rows = self._read_all(Q["list_live_instances"], params)
        return [_instance(row) for row in rows]

    # -- jobs, API side ------------------------------------------------------------------

    async def submit_operation(self, request: OperationRequest) -> SubmittedJob:
        submitted = await self._writer.write(lambda c: sqlite_jobs.submit(c, request, now_ms()))
        if not submitted.replayed:
            self._new_job.set()
            self.changes.publish(submitted.job_id)
        return submitted

    async def get_job(self, domain_id: int, job_id: int) -> JobView | None:
        params = {"job_id": job_id, "domain_id": domain_id}
        return job_view_with_messages(self._read_one(Q["get_job"], params))

    async def get_job_by_log_id(self, domain_id: int, activity_log_id: int) -> JobView | None:
        params = {"activity_log_id": activity_log_id, "domain_id": domain_id}
        return job_view_with_messages(self._read_one(Q["get_job_by_log_id"], params))

    async def search_jobs(self, domain_id: int, query: JobQuery) -> tuple[list[JobView], int]:
        sql = build_search(domain_id, query, lambda _: "?")

        def search(c: sqlite3.Connection) -> tuple[list[JobView], int]:
            total = c.execute(sql.count, sql.params).fetchone()[0]
            rows = c.execute(sql.page, sql.page_params).fetchall()
            return _with_messages(c, rows), total

        return await self._read_in_pool(search)

    # -- jobs, engine side ---------------------------------------------------------------

    async def claim_jobs(
        self,
        owner: str,
        lease_seconds: float,
        limit: int,
        service_types: Sequence[str] | None = None,
    ) -> list[ClaimedJob]:
        token_prefix = f"{secrets.token_hex(8)}-"

        def claim(c: sqlite3.Connection) -> list[ClaimedJob]:
            now = now_ms()
            params = {
                "token_prefix": token_prefix,
                "owner": owner,
                "now": now,
                "expires_at": now + int(lease_seconds * 1000),
                "limit": limit,
                "service_types": None if service_types is None else json.dumps(service_types),
            }
            rows = sorted(c.execute(Q["claim_jobs"], params).fetchall())
            for row in rows:
                sqlite_jobs.insert_messages(c, row[0], row[-1], [STARTED_MESSAGE], now)
            return [claimed_job(row) for row in rows]

        claimed = await self._writer.write(claim)
        for job in claimed:
            self.changes.publish(job.job_id)
        return claimed

    async def append_message(self, job: ClaimedJob, text: str) -> None:
        def append(c: sqlite3.Connection) -> None:
            now = now_ms()
            params = {"job_id": job.job_id, "token": job.lease_token, "now": now, "count": 1}
            row = c.execute(Q["reserve_message_positions"], params).fetchone()
            if row is None:
                raise errors.LeaseLost()
            sqlite_jobs.insert_messages(c, job.job_id, row[0], [text], now)

        await self._writer.write(append)
        self.changes.publish(job.job_id)

    async def set_progress(self, job: ClaimedJob, percent: int) -> None:
        def record(c: sqlite3.Connection) -> None:
            params = {
                "job_id": job.job_id,
                "token": job.lease_token,
                "now": now_ms(),
                "percent": percent,
            }
            if c.execute(Q["set_progress"], params).fetchone() is None:
                raise errors.LeaseLost()

        await self._writer.write(record)
        self.changes.publish(job.job_id)

    async def renew_lease(self, job: ClaimedJob, lease_seconds: float) -> str | None:
        def renew(c: sqlite3.Connection) -> str | None:
            now = now_ms()
            params = {
                "job_id": job.job_id,
                "token": job.lease_token,
                "now": now,
                "expires_at": now + int(lease_seconds * 1000),
            }
            row = c.execute(Q["renew_lease"], params).fetchone()
            if row is None:
                raise errors.LeaseLost()
            return str(row[0]) if row[0] is not None else None

        return await self._writer.write(renew)

    async def cancel_request(self, job: ClaimedJob) -> str | None:
        params = {"job_id": job.job_id, "token": job.lease_token}
        row = self._read_one(Q["job_cancel_request"], params)
        if row is None:
            raise errors.LeaseLost()
        return str(row[0]) if row[0] is not None else None

    async def finish_job(self, job: ClaimedJob, status: JobStatus, messages: Sequence[str]) -> None:
        await self._writer.write(lambda c: sqlite_jobs.finish(c, job, status, list(messages)))
        self.changes.publish(job.job_id)

    async def release_job(self, job: ClaimedJob, reason: str) -> None:
        if await self._writer.write(lambda c: sqlite_jobs.release(c, job, reason)):
            self._new_job.set()
        self.changes.publish(job.job_id)

    async def rescue_expired_jobs(self) -> list[RescuedJob]:
        # Any process on the file may rescue: the write lock makes each rescue one turn.
        rescued = await self._writer.write(lambda c: sqlite_jobs.rescue_expired(c, now_ms()))
        self._published(rescued)
        return rescued

    async def cancel_job(self, domain_id: int, job_id: int, requested_by: str) -> JobView:
        view = await self._writer.write(
            lambda c: sqlite_jobs.cancel(c, domain_id, job_id, requested_by)
        )
        self.changes.publish(job_id)
        self.cancellations.publish(job_id)
        return view

    def _published(self, rescued: list[RescuedJob]) -> None:
        for job in rescued:
            self.changes.publish(job.job_id)
        if any(job.status == JobStatus.NEW for job in rescued):
            self._new_job.set()

    async def wait_for_new_jobs(self, timeout: float) -> None:
        # Only this process's submissions set the event; other processes on the same file
        # are found by the caller's next poll, after `timeout`.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._new_job.wait(), timeout)
        self._new_job.clear()


# -- transaction bodies, run on the writer thread --------------------------------------------


def _require_domain(c: sqlite3.Connection, name: str) -> int:
    row = c.execute(Q["get_domain"], {"name": name}).fetchone()
    if row is None:
        raise errors.NotFound(
            f"No identity domain [{name}]; create it with `activitylog domain add`."
        )
    return int(row[0])


# -- row mapping ------------------------------------------------------------------------------


def _user(row: Sequence[Any]) -> User:
    return User(*row)


def _instance(row: Sequence[Any]) -> Instance:
    values = list(row)
    values[6] = json.loads(values[6])
    return Instance(*values)


def _with_messages(c: sqlite3.Connection, rows: list[Sequence[Any]]) -> list[JobView]:
    if not rows:
        return []
    ids = [row[5] for row in rows]
    marks = ", ".join("?" * len(ids))
    by_job: dict[int, list[Message]] = {job_id: [] for job_id in ids}
    for job_id, date, text in c.execute(
        f"SELECT job_id, activity_date, message FROM job_messages WHERE job_id IN ({marks}) "
        "ORDER BY job_id, position",
        ids,
    ):
        by_job[job_id].append(Message(date, text))
    return [job_view_from_row(row, tuple(by_job[row[5]])) for row in rows]


def translate_error(exc: sqlite3.Error) -> Exception:
    """Map a sqlite3 error to the most specific activitylog error."""
    text = str(exc)
    if isinstance(exc, sqlite3.IntegrityError):
        if "jobs.service_id" in text:
            return errors.OperationInFlight()
        if "service_instances" in text:
            return errors.InstanceExists()
        if "identity_domains.name" in text:
            return errors.Conflict("That identity domain already exists.")
        if "users.domain_id, users.name" in text:
            return errors.Conflict("That user already exists in this identity domain.")
        return errors.Conflict(f"The change conflicts with stored data: {text}")
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return errors.StoreUnavailable("The database is busy; retry shortly.")
    return errors.StoreUnavailable(f"The database failed: {text}")
