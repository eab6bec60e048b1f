"""Stopping a worker gently: no more claims; running handlers get a grace period, then are
cancelled and their jobs handed back for another worker."""

from __future__ import annotations

import anyio
import pytest

from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import (
    ENDED_MESSAGE,
    RELEASED_MESSAGE,
    STARTED_MESSAGE,
    SUBMITTED_MESSAGE,
    JobStatus,
)
from activitylog.engine.handlers import JobContext
from activitylog.engine.worker import Worker
from activitylog.store.base import Store
from activitylog.store.records import Domain
from tests.engine.conftest import DEADLINE, Submit, registry_of, texts, wait_for_job

pytestmark = pytest.mark.anyio

CREATE = OperationType.CREATE_SERVICE


async def test_a_handler_that_ends_within_the_grace_period_ends_its_job(
    store: Store, domain: Domain, submit: Submit
) -> None:
    started, finish = anyio.Event(), anyio.Event()

    async def create(context: JobContext) -> None:
        started.set()
        await finish.wait()
        await context.log("Created.")

    job_id = await submit("MyService")
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=0.05)
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group:
            group.start_soon(worker.run)
            await started.wait()
            worker.stop(grace=30.0)
            finish.set()
        job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.SUCCEED
    assert texts(job)[-2:] == ["Created.", ENDED_MESSAGE]


async def test_a_handler_past_the_grace_period_is_cancelled_and_its_job_released(
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
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=0.05)
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group:
            group.start_soon(worker.run)
            await started.wait()
            worker.stop(grace=0.1)
    # run() returned only once the job was handed back.
    job = await store.get_job(domain.domain_id, job_id)

    assert seen == ["cancelled"]
    assert job is not None
    assert job.status == JobStatus.NEW
    assert texts(job) == [SUBMITTED_MESSAGE, STARTED_MESSAGE, RELEASED_MESSAGE]


async def test_a_stopping_worker_claims_nothing_more(
    store: Store, domain: Domain, submit: Submit
) -> None:
    started, finish = anyio.Event(), anyio.Event()
    ran: list[str] = []

    async def create(context: JobContext) -> None:
        ran.append(context.service_name)
        started.set()
        await finish.wait()

    first_id = await submit("First")
    second_id = await submit("Second")
    # One slot: the second job could be claimed as soon as the first ends.
    worker = Worker(store, registry_of((CREATE, create)), concurrency=1, poll_interval=0.05)
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group:
            group.start_soon(worker.run)
            await started.wait()
            worker.stop(grace=30.0)
            finish.set()
    first = await store.get_job(domain.domain_id, first_id)
    second = await store.get_job(domain.domain_id, second_id)

    assert ran == ["First"]
    assert first is not None
    assert first.status == JobStatus.SUCCEED
    assert second is not None
    assert second.status == JobStatus.NEW
