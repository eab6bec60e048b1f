"""Cancelling a running job: the handler hears of it, may wind down, and is cancelled after
the grace period; the job ends FAILED, saying who cancelled it."""

from __future__ import annotations

import anyio
import prometheus_client
import pytest
import structlog

from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import ENDED_MESSAGE, JobStatus
from activitylog.engine.demo_caching import demo_caching_service_type
from activitylog.engine.handlers import JobContext, ServiceTypeRegistry
from activitylog.engine.worker import Worker
from activitylog.store.base import Store
from activitylog.store.records import Domain
from activitylog.store.sqlite import SQLiteStore
from tests.conftest import metric_value
from tests.engine.conftest import (
    DEADLINE,
    Submit,
    registry_of,
    running,
    texts,
    wait_for_job,
)

pytestmark = pytest.mark.anyio

CREATE = OperationType.CREATE_SERVICE
USER = "joe@example.com"


async def test_a_handler_that_heeds_the_request_ends_the_job_cancelled(
    store: Store, domain: Domain, submit: Submit
) -> None:
    started = anyio.Event()

    async def create(context: JobContext) -> None:
        started.set()
        await context.cancel_requested.wait()
        await context.log(f"Stopping, as {context.cancel_requested_by} asked.")

    job_id = await submit("MyService")
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=0.05, cancel_grace=30.0)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            await started.wait()
            await store.cancel_job(domain.domain_id, job_id, USER)
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.FAILED
    assert texts(job)[2:] == [
        f"Cancellation requested by {USER}.",
        f"Stopping, as {USER} asked.",
        f"Cancelled by {USER}.",
        ENDED_MESSAGE,
    ]


def jobs_ended(status: JobStatus) -> float:
    """The count /metrics shows for jobs this process ended with ``status``."""
    page = prometheus_client.generate_latest().decode()
    return metric_value(page, f'activitylog_jobs_ended_total{{status="{status}"}}')


async def test_a_cancelled_job_is_logged_and_counted_as_the_store_recorded_it(
    store: Store, domain: Domain, submit: Submit
) -> None:
    """The handler returns as if it succeeded; the store records FAILED, and so must the
    worker's log line and its metric."""
    started = anyio.Event()

    async def create(context: JobContext) -> None:
        started.set()
        await context.cancel_requested.wait()

    job_id = await submit("MyService")
    before = {status: jobs_ended(status) for status in (JobStatus.SUCCEED, JobStatus.FAILED)}
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=0.05, cancel_grace=30.0)
    with structlog.testing.capture_logs() as logged, anyio.fail_after(DEADLINE):
        async with running(worker):
            await started.wait()
            await store.cancel_job(domain.domain_id, job_id, USER)
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.FAILED
    ended = [line for line in logged if line["event"] == "job ended"]
    assert [(line["job_id"], line["status"]) for line in ended] == [(job_id, "FAILED")]
    assert jobs_ended(JobStatus.FAILED) == before[JobStatus.FAILED] + 1
    assert jobs_ended(JobStatus.SUCCEED) == before[JobStatus.SUCCEED]


async def test_the_demo_stops_a_cancelled_create_and_leaves_the_instance_failed(
    store: Store, domain: Domain, submit: Submit
) -> None:
    """Issue "Everyday use" point 2: no "Completed operation" after the cancellation, and an
    instance state that says the create did not complete."""
    job_id = await submit("MyCache", service_type="caching")
    caching = ServiceTypeRegistry([demo_caching_service_type(step_delay=0.1)])
    worker = Worker(store, caching, poll_interval=0.05, cancel_grace=30.0)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            while len(texts(await wait_for_job(store, domain, job_id, ["RUNNING"]))) < 4:
                await anyio.sleep(0.01)  # two steps logged
            await store.cancel_job(domain.domain_id, job_id, USER)
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.FAILED
    lines = texts(job)
    assert not any(line.startswith("Completed operation") for line in lines), lines
    stopped = lines.index(f"Cancellation requested by {USER}.") + 1
    assert lines[stopped].startswith("Stopped at step ")
    assert lines[stopped].endswith(f" of 5: cancellation requested by {USER}.")
    assert lines[stopped + 1 :] == [
        "Service [MyCache] was not created: it is left failed; delete it to release what the "
        "create acquired.",
        f"Cancelled by {USER}.",
        ENDED_MESSAGE,
    ]
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.state == "failed"


async def test_a_handler_that_ignores_the_request_is_cancelled_after_the_grace_period(
    store: Store, domain: Domain, submit: Submit
) -> None:
    started = anyio.Event()
    seen: list[str] = []

    async def create(context: JobContext) -> None:
        started.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            seen.append("cancelled")
            raise

    job_id = await submit("MyService")
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=0.05, cancel_grace=0.1)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            await started.wait()
            await store.cancel_job(domain.domain_id, job_id, USER)
            job = await wait_for_job(store, domain, job_id)

    assert seen == ["cancelled"]
    assert job.status == JobStatus.FAILED
    assert texts(job)[2:] == [
        f"Cancellation requested by {USER}.",
        f"Cancelled by {USER}.",
        ENDED_MESSAGE,
    ]


async def test_a_request_made_where_the_worker_hears_nothing_comes_with_the_heartbeat(
    store: Store, domain: Domain, submit: Submit, sqlite_path: str
) -> None:
    """Another process on the same SQLite file: no change feed reaches this worker."""
    started = anyio.Event()

    async def create(context: JobContext) -> None:
        started.set()
        await context.cancel_requested.wait()

    job_id = await submit("MyService")
    elsewhere = SQLiteStore(sqlite_path)
    await elsewhere.open()
    worker = Worker(
        store, registry_of((CREATE, create)), poll_interval=0.05, heartbeat_seconds=0.05
    )
    try:
        with anyio.fail_after(DEADLINE):
            async with running(worker):
                await started.wait()
                await elsewhere.cancel_job(domain.domain_id, job_id, USER)
                job = await wait_for_job(store, domain, job_id)
    finally:
        await elsewhere.close()

    assert job.status == JobStatus.FAILED
    assert texts(job)[-2:] == [f"Cancelled by {USER}.", ENDED_MESSAGE]


async def test_a_job_cancelled_before_it_starts_never_runs(
    store: Store, domain: Domain, submit: Submit
) -> None:
    ran: list[str] = []

    async def create(context: JobContext) -> None:
        ran.append(context.service_name)

    job_id = await submit("MyService")
    other_id = await submit("Other")
    cancelled = await store.cancel_job(domain.domain_id, job_id, USER)

    worker = Worker(store, registry_of((CREATE, create)), concurrency=1, poll_interval=0.05)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            await wait_for_job(store, domain, other_id)
    job = await store.get_job(domain.domain_id, job_id)

    assert ran == ["Other"]
    assert cancelled.status == JobStatus.FAILED
    assert job == cancelled
