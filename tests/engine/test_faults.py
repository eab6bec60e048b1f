"""The engine and the API over a store that fails as real databases do (activitylog.testing's
FaultyStore): jobs still end exactly once, their messages in order, and the API answers 503
meanwhile."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator

import anyio
import httpx
import pytest
import structlog

from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import ENDED_MESSAGE, STARTED_MESSAGE, SUBMITTED_MESSAGE, JobStatus
from activitylog.engine.handlers import JobContext
from activitylog.engine.worker import Worker
from activitylog.serving import create_app
from activitylog.settings import Settings
from activitylog.store.base import Store
from activitylog.store.records import Domain, JobView
from activitylog.store.sqlite import SQLiteStore
from activitylog.testing import Fault, FaultyStore
from tests.conftest import DOMAIN, INSTANCES, JOB_PREFIX, PASSWORD, USER, add_tenant, basic_auth
from tests.engine.conftest import DEADLINE, Submit, registry_of, running, texts, wait_for_job

pytestmark = pytest.mark.anyio

CREATE = OperationType.CREATE_SERVICE
STEP = re.compile(r"Attempt (\d+): step \d+\.")
RETRYING = re.compile(r"Worker lost \(lease expired\); retrying: attempt (\d+) of \d+\.")


@pytest.fixture
async def faulty(store: Store) -> FaultyStore:
    return FaultyStore(store, hang_seconds=0.05, seed=7)


def quick_worker(store: Store, concurrency: int = 4) -> Worker:
    async def create(context: JobContext) -> None:
        for step in range(1, 4):
            await context.log(f"Attempt {context.attempt}: step {step}.")
            await anyio.sleep(0.01)

    return Worker(
        store,
        registry_of((CREATE, create)),
        concurrency=concurrency,
        lease_seconds=0.5,
        heartbeat_seconds=0.05,
        poll_interval=0.05,
        rescue_interval=0.05,
    )


def assert_ran_once_per_attempt_in_order(job: JobView) -> None:
    """Ended once; one Activity Started per attempt; each attempt's lines inside its own."""
    lines = texts(job)
    assert lines[0] == SUBMITTED_MESSAGE
    assert lines[-1] == ENDED_MESSAGE
    assert lines.count(ENDED_MESSAGE) == 1
    attempt = 0
    for line in lines[1:-1]:
        if line == STARTED_MESSAGE:
            attempt += 1
        elif step := STEP.fullmatch(line):
            assert int(step.group(1)) == attempt, lines
        elif retry := RETRYING.fullmatch(line):
            assert int(retry.group(1)) == attempt + 1, lines
    retries = sum(bool(RETRYING.fullmatch(line)) for line in lines)
    assert lines.count(STARTED_MESSAGE) in (retries, retries + 1), lines
    dates = [message.activity_date for message in job.messages]
    assert dates == sorted(dates)


async def test_jobs_end_exactly_once_in_order_under_random_faults(
    faulty: FaultyStore, domain: Domain, submit: Submit
) -> None:
    # One of each for sure, then a fifth of the calls at random.
    faulty.inject("claim_jobs", Fault.LOST_ANSWER)
    faulty.inject("finish_job", Fault.LOST_ANSWER)
    faulty.inject("renew_lease", Fault.TIMEOUT)
    faulty.inject("rescue_expired_jobs", Fault.UNAVAILABLE)
    faulty.inject_randomly(
        ["claim_jobs", "renew_lease", "cancel_request", "finish_job", "rescue_expired_jobs"],
        0.2,
        list(Fault),
    )
    job_ids = [await submit(f"service{index}", max_attempts=3) for index in range(20)]
    with anyio.fail_after(DEADLINE * 2):
        async with running(quick_worker(faulty)):
            jobs = [await wait_for_job(faulty.inner, domain, job_id) for job_id in job_ids]

    assert {fault for _, fault in faulty.injected} == set(Fault)
    for job in jobs:
        assert job.status in (JobStatus.SUCCEED, JobStatus.FAILED)
        assert_ran_once_per_attempt_in_order(job)
    assert any(RETRYING.search(" ".join(texts(job))) for job in jobs)


async def test_a_claim_whose_answer_was_lost_is_rescued_after_its_lease(
    faulty: FaultyStore, domain: Domain, submit: Submit
) -> None:
    faulty.inject("claim_jobs", Fault.LOST_ANSWER)
    job_id = await submit("MyService", max_attempts=2)
    with anyio.fail_after(DEADLINE):
        async with running(quick_worker(faulty)):
            job = await wait_for_job(faulty.inner, domain, job_id)

    assert job.status == JobStatus.SUCCEED
    assert texts(job) == [
        SUBMITTED_MESSAGE,
        STARTED_MESSAGE,
        "Worker lost (lease expired); retrying: attempt 2 of 2.",
        STARTED_MESSAGE,
        "Attempt 2: step 1.",
        "Attempt 2: step 2.",
        "Attempt 2: step 3.",
        ENDED_MESSAGE,
    ]


@pytest.mark.parametrize("fault", list(Fault))
async def test_the_final_write_survives_faults_and_lands_once(
    faulty: FaultyStore, domain: Domain, submit: Submit, fault: Fault
) -> None:
    faulty.inject("finish_job", fault, times=3)
    job_id = await submit("MyService")
    with anyio.fail_after(DEADLINE):
        async with running(quick_worker(faulty)):
            job = await wait_for_job(faulty.inner, domain, job_id)

    assert job.status == JobStatus.SUCCEED
    assert texts(job)[-2:] == ["Attempt 1: step 3.", ENDED_MESSAGE]
    assert texts(job).count(ENDED_MESSAGE) == 1


# -- the API ------------------------------------------------------------------------------------


@pytest.fixture
async def api(sqlite_path: str) -> AsyncIterator[tuple[FaultyStore, httpx.AsyncClient]]:
    faulty = FaultyStore(SQLiteStore(sqlite_path), hang_seconds=0.05)
    settings = Settings(db=sqlite_path, demo_step_delay=0.0, poll_interval=0.05)
    app = create_app(settings, store=faulty)
    async with app.router.lifespan_context(app):
        await add_tenant(faulty)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
            base_url="http://testserver",
            headers={"Authorization": basic_auth(USER, PASSWORD), "X-ID-TENANT-NAME": DOMAIN},
        ) as client:
            yield faulty, client


@pytest.mark.parametrize("fault", [Fault.UNAVAILABLE, Fault.TIMEOUT])
async def test_the_api_answers_503_json_with_retry_after_then_recovers(
    api: tuple[FaultyStore, httpx.AsyncClient], fault: Fault
) -> None:
    faulty, client = api
    created = await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "A"}})
    assert created.status_code == 202
    job_url = f"{JOB_PREFIX}/job/{created.json()['details']['jobId']}"

    with faulty.outage(fault):
        answers = [
            await client.get(job_url),
            await client.get(f"{JOB_PREFIX}/filter"),
            await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "B"}}),
            await client.post(f"{job_url}/cancel"),
        ]

    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["retry-after"]
        assert answer.json()["status"] == "503"
        assert "Traceback" not in answer.text
    assert (await client.get(job_url)).status_code == 200
    again = await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "B"}})
    assert again.status_code == 202


# -- an end that cannot be recorded for a while ---------------------------------------------------

COMPLETED = "Completed operation to create service [MyService]."


def completing_worker(store: Store, handler_returns: anyio.Event, logged: anyio.Event) -> Worker:
    """A worker whose handler logs that it completed, then returns when told to; its lease is
    short, and its rescuer looks often, so an outage outlasts several leases."""

    async def create(context: JobContext) -> None:
        await context.log(COMPLETED)
        logged.set()
        await handler_returns.wait()

    return Worker(
        store,
        registry_of((CREATE, create)),
        lease_seconds=0.3,
        heartbeat_seconds=0.05,
        poll_interval=0.05,
        rescue_interval=0.05,
    )


async def test_an_end_held_up_past_the_lease_ends_as_the_handler_did_once_the_store_is_back(
    faulty: FaultyStore, domain: Domain, submit: Submit
) -> None:
    """Issue "Safe to expose": the worker keeps retrying the end (and renewing the lease), and
    its own rescuer leaves the job alone, until the store takes it: never "Worker lost"."""
    handler_returns, logged = anyio.Event(), anyio.Event()
    job_id = await submit("MyService", max_attempts=1)
    with anyio.fail_after(DEADLINE):
        async with running(completing_worker(faulty, handler_returns, logged)):
            await logged.wait()
            with faulty.outage():
                handler_returns.set()
                await anyio.sleep(1.2)  # four leases
            job = await wait_for_job(faulty.inner, domain, job_id)

    assert ("finish_job", Fault.UNAVAILABLE) in faulty.injected
    assert ("rescue_expired_jobs", Fault.UNAVAILABLE) in faulty.injected
    assert job.status == JobStatus.SUCCEED
    assert texts(job) == [SUBMITTED_MESSAGE, STARTED_MESSAGE, COMPLETED, ENDED_MESSAGE]


class DiskFull:
    """A real SQLITE_FULL on the store's own writer connection: ``PRAGMA max_page_count`` holds
    the file at its size, and ballast rows fill the last page of the job's messages, where its
    closing messages would go (the key is (job_id, position); the job is the newest)."""

    BALLAST_FROM = 1_000_000  # positions far past any real message of the job

    def __init__(self, store: SQLiteStore, job_id: int) -> None:
        self._store = store
        self._job_id = job_id

    async def __aenter__(self) -> None:
        pages = await self._limit_writer(None)
        await anyio.to_thread.run_sync(self._fill, pages)

    async def __aexit__(self, *exc_info: object) -> None:
        await anyio.to_thread.run_sync(self._empty)
        await self._limit_writer(1_073_741_823)  # SQLite's default

    async def _limit_writer(self, pages: int | None) -> int:
        """Hold the writer's connection to ``pages`` pages (None: its size now)."""

        def limit(connection: sqlite3.Connection) -> int:
            count = pages or connection.execute("PRAGMA page_count").fetchone()[0]
            return int(connection.execute(f"PRAGMA max_page_count = {count}").fetchone()[0])

        # The writer's own connection: max_page_count holds only the connection that sets it.
        return await self._store._writer.write(limit)

    def _fill(self, pages: int) -> None:
        # Autocommit: a statement the full file refuses rolls back alone.
        with contextlib.closing(sqlite3.connect(self._store.path, isolation_level=None)) as c:
            c.execute(f"PRAGMA max_page_count = {pages}")
            size, position = 4096, self.BALLAST_FROM
            while size:
                try:
                    c.execute(
                        "INSERT INTO job_messages VALUES (?, ?, 0, ?)",
                        (self._job_id, position, "x" * size),
                    )
                    position += 1
                except sqlite3.OperationalError as exc:
                    if "full" not in str(exc):
                        raise
                    size //= 2

    def _empty(self) -> None:
        with contextlib.closing(sqlite3.connect(self._store.path, isolation_level=None)) as c:
            c.execute(
                "DELETE FROM job_messages WHERE job_id = ? AND position >= ?",
                (self._job_id, self.BALLAST_FROM),
            )


async def test_a_disk_full_end_is_recorded_as_the_handler_ended_once_space_returns(
    store: SQLiteStore, domain: Domain, submit: Submit
) -> None:
    handler_returns, logged = anyio.Event(), anyio.Event()
    job_id = await submit("MyService", max_attempts=1)
    with (
        structlog.testing.capture_logs() as logs,
        anyio.fail_after(DEADLINE),
    ):
        async with running(completing_worker(store, handler_returns, logged)):
            await logged.wait()
            async with DiskFull(store, job_id):
                handler_returns.set()
                await anyio.sleep(1.2)  # four leases
            job = await wait_for_job(store, domain, job_id)

    refused = [line for line in logs if line["event"].startswith("cannot record the job's end")]
    assert refused
    assert "full" in refused[0]["error"]
    assert job.status == JobStatus.SUCCEED
    assert texts(job) == [SUBMITTED_MESSAGE, STARTED_MESSAGE, COMPLETED, ENDED_MESSAGE]
