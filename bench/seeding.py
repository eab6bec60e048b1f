"""Seed a fresh SQLite database with many jobs quickly, for the benchmarks.

The schema and the tenant come from activitylog itself (its migrations and store API); the jobs
go in with `executemany`, one transaction, since the store's one-write-per-call path is far too
slow for tens of thousands of rows. Each job looks like a demo `caching` CREATE_SERVICE.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import time

from activitylog.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USER
from activitylog.domain.jobs import ENDED_MESSAGE, STARTED_MESSAGE, SUBMITTED_MESSAGE
from activitylog.http.auth import password_hasher
from activitylog.store.sqlite import SQLiteStore

RUNNING_EVERY = 10
"""One job in this many is still running; the others have succeeded."""
_STEP_MS = 500
_JOB_GAP_MS = 60_000
_LEASE_MS = 24 * 3600 * 1000  # no worker runs during a benchmark; the lease only has to look real

_INSERT_INSTANCE = """
INSERT INTO service_instances (service_id, domain_id, service_type, name, description, state,
    parameters, created_by, created_at, updated_at)
VALUES (?, ?, 'caching', ?, '', ?, '{"size": "1"}', ?, ?, ?)
"""
_INSERT_JOB = """
INSERT INTO jobs (job_id, activity_log_id, domain_id, identity_domain, service_id, service_name,
    service_type, operation_type, status, auth_domain, auth_user, initiated_by, parameters,
    previous_instance_state, start_date, end_date, run_after, attempt, max_attempts,
    lease_token, lease_owner, lease_expires_at, message_count, version)
VALUES (:job_id, :job_id, :domain_id, :domain, :job_id, :name, 'caching', 'CREATE_SERVICE',
    :status, :domain, :user, 'USER', :parameters, 'creating', :start, :end, :start, 1, 1,
    :lease_token, :lease_owner, :lease_expires_at, :message_count, :version)
"""
_INSERT_MESSAGE = (
    "INSERT INTO job_messages (job_id, position, activity_date, message) VALUES (?, ?, ?, ?)"
)


@dataclasses.dataclass(frozen=True, slots=True)
class SeededJobs:
    """What was seeded: the tenant, and one job id of each kind to look up."""

    domain: str
    user: str
    password: str
    terminal_job_id: int
    running_job_id: int


def seed_jobs(path: str, count: int) -> SeededJobs:
    """Create the schema, the demo tenant and ``count`` jobs (``count`` >= RUNNING_EVERY)."""
    if count < RUNNING_EVERY:
        raise ValueError(f"seed at least {RUNNING_EVERY} jobs, so that some are running")
    domain_id = asyncio.run(_create_tenant(path))
    connection = sqlite3.connect(path)
    try:
        with connection:
            _insert_jobs(connection, domain_id, count)
    finally:
        connection.close()
    # Jobs from the middle of the table; the one before a running job is always terminal.
    running = count // 2 - count // 2 % RUNNING_EVERY + RUNNING_EVERY
    return SeededJobs(DEMO_DOMAIN, DEMO_USER, DEMO_PASSWORD, running - 1, running)


async def _create_tenant(path: str) -> int:
    """Migrate through the store, and create the domain and user the way the CLI does."""
    store = SQLiteStore(path)
    await store.open()
    try:
        domain = await store.create_domain(DEMO_DOMAIN)
        hashed = await asyncio.to_thread(password_hasher().hash, DEMO_PASSWORD)
        await store.create_user(DEMO_DOMAIN, DEMO_USER, hashed, "admin")
    finally:
        await store.close()
    return domain.domain_id


@dataclasses.dataclass(frozen=True, slots=True)
class _SeedJob:
    job_id: int
    domain_id: int
    start: int

    @property
    def running(self) -> bool:
        return self.job_id % RUNNING_EVERY == 0

    @property
    def name(self) -> str:
        return f"Cache{self.job_id:06d}"

    @property
    def texts(self) -> list[str]:
        if self.running:
            return [SUBMITTED_MESSAGE, STARTED_MESSAGE, *_steps(self.name)[:2]]
        return [SUBMITTED_MESSAGE, STARTED_MESSAGE, *_steps(self.name), ENDED_MESSAGE]

    @property
    def end(self) -> int | None:
        return None if self.running else self.start + (len(self.texts) - 1) * _STEP_MS

    def instance_row(self) -> tuple[object, ...]:
        state = "creating" if self.running else "running"
        updated = self.end or self.start
        return (self.job_id, self.domain_id, self.name, state, DEMO_USER, self.start, updated)

    def job_row(self) -> dict[str, object]:
        running, count = self.running, len(self.texts)
        return {
            "job_id": self.job_id,
            "domain_id": self.domain_id,
            "domain": DEMO_DOMAIN,
            "user": DEMO_USER,
            "name": self.name,
            "parameters": json.dumps({"size": "1"}),
            "status": "RUNNING" if running else "SUCCEED",
            "start": self.start,
            "end": self.end,
            "lease_token": f"{self.job_id:016x}" if running else None,
            "lease_owner": "bench" if running else None,
            "lease_expires_at": self.start + _LEASE_MS if running else None,
            "message_count": count,
            # A job's version counts its writes: submit, claim, one per step, end.
            "version": count - 1,
        }

    def message_rows(self) -> list[tuple[int, int, int, str]]:
        return [
            (self.job_id, position, self.start + (position - 1) * _STEP_MS, text)
            for position, text in enumerate(self.texts, start=1)
        ]


def _insert_jobs(connection: sqlite3.Connection, domain_id: int, count: int) -> None:
    first_start = time.time_ns() // 1_000_000 - count * _JOB_GAP_MS
    jobs = [
        _SeedJob(job_id, domain_id, first_start + job_id * _JOB_GAP_MS)
        for job_id in range(1, count + 1)
    ]
    connection.executemany(_INSERT_INSTANCE, [job.instance_row() for job in jobs])
    connection.executemany(_INSERT_JOB, [job.job_row() for job in jobs])
    connection.executemany(_INSERT_MESSAGE, [row for job in jobs for row in job.message_rows()])
    connection.execute(
        "UPDATE id_sequences SET last_value = ? WHERE name = 'activity_log'", [count]
    )


def _steps(name: str) -> list[str]:
    """The five step messages of a demo `caching` CREATE_SERVICE (engine/demo_caching.py)."""
    node = f"{name.lower()[:10]}-cach-1"
    where = f"service [{name}] in identity domain [{DEMO_DOMAIN}]"
    return [
        f"Started operation to create {where}.",
        f"Acquired resources for instance(1G) {node}...",
        f"Deploying cache cluster on {node}...",
        f"Cache cluster deployed and listening on {node}:9000.",
        f"Completed operation to create {where}.",
    ]
