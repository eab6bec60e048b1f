"""Rescue and retry: only a lost worker's job is tried again, as its policy allows."""

from __future__ import annotations

import anyio
import pytest

from activitylog.domain.instances import InstanceState, OperationType
from activitylog.domain.jobs import ENDED_MESSAGE, STARTED_MESSAGE, SUBMITTED_MESSAGE, JobStatus
from activitylog.engine.handlers import JobContext, ServiceType, ServiceTypeRegistry
from activitylog.engine.service_types_config import OperationPolicy
from activitylog.engine.worker import Worker
from activitylog.store.base import Store
from activitylog.store.records import Domain
from tests.conftest import claim_next_job
from tests.engine.conftest import (
    DEADLINE,
    SERVICE_TYPE,
    Submit,
    registry_of,
    running,
    texts,
    wait_for_job,
)

pytestmark = pytest.mark.anyio

CREATE = OperationType.CREATE_SERVICE
LEASE = 0.5


def worker(store: Store, registry: ServiceTypeRegistry) -> Worker:
    return Worker(
        store,
        registry,
        lease_seconds=LEASE,
        heartbeat_seconds=0.05,
        poll_interval=0.05,
        rescue_interval=0.05,
    )


async def vanish(store: Store) -> None:
    """A worker claims the next job and is never heard of again."""
    assert await claim_next_job(store, "a-worker-that-died", LEASE) is not None


async def test_a_lost_job_is_rescued_and_retried(
    store: Store, domain: Domain, submit: Submit
) -> None:
    attempts: list[int] = []

    async def create(context: JobContext) -> None:
        attempts.append(context.attempt)
        await context.log(f"Created on attempt {context.attempt}.")

    job_id = await submit("MyService", max_attempts=2)
    await vanish(store)
    with anyio.fail_after(DEADLINE):
        async with running(worker(store, registry_of((CREATE, create)))):
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.SUCCEED
    assert attempts == [2]
    assert texts(job) == [
        SUBMITTED_MESSAGE,
        STARTED_MESSAGE,
        "Worker lost (lease expired); retrying: attempt 2 of 2.",
        STARTED_MESSAGE,
        "Created on attempt 2.",
        ENDED_MESSAGE,
    ]


async def test_a_lost_job_without_attempts_left_ends_failed(
    store: Store, domain: Domain, submit: Submit
) -> None:
    async def create(context: JobContext) -> None:
        raise AssertionError("a job with no attempts left never runs again")

    job_id = await submit("MyService")
    await vanish(store)
    with anyio.fail_after(DEADLINE):
        async with running(worker(store, registry_of((CREATE, create)))):
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.FAILED
    assert texts(job)[2:] == [
        "Worker lost (lease expired) on attempt 1 of 1; giving up.",
        ENDED_MESSAGE,
    ]
    instance = await store.get_instance(domain.domain_id, SERVICE_TYPE, "MyService")
    assert instance is not None
    assert instance.state == InstanceState.FAILED


async def test_a_handler_that_raises_is_not_retried(
    store: Store, domain: Domain, submit: Submit
) -> None:
    calls: list[int] = []

    async def create(context: JobContext) -> None:
        calls.append(context.attempt)
        raise RuntimeError("quota exceeded")

    job_id = await submit("MyService", max_attempts=3)
    with anyio.fail_after(DEADLINE):
        async with running(worker(store, registry_of((CREATE, create)))):
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.FAILED
    assert calls == [1]
    assert texts(job).count(STARTED_MESSAGE) == 1
    assert (
        texts(job)[-2] == "Operation CREATE_SERVICE on service [MyService] failed: quota exceeded"
    )


async def test_a_handler_past_its_timeout_ends_failed_and_is_not_retried(
    store: Store, domain: Domain, submit: Submit
) -> None:
    async def create(context: JobContext) -> None:
        await anyio.sleep_forever()

    registry = ServiceTypeRegistry(
        [
            ServiceType(
                SERVICE_TYPE,
                {CREATE: create},
                policies={CREATE: OperationPolicy(timeout=0.1, attempts=3)},
            )
        ]
    )
    job_id = await submit("MyService", max_attempts=3)
    with anyio.fail_after(DEADLINE):
        async with running(worker(store, registry)):
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.FAILED
    assert texts(job)[2:] == [
        "Operation CREATE_SERVICE on service [MyService] failed: timed out after 0.1 s",
        ENDED_MESSAGE,
    ]


async def test_a_lost_job_waits_out_its_backoff_before_the_retry(
    store: Store, domain: Domain, submit: Submit
) -> None:
    async def create(context: JobContext) -> None:
        raise AssertionError("the backoff is an hour: no retry within this test")

    job_id = await submit("MyService", max_attempts=2, backoff_ms=3_600_000)
    await vanish(store)
    with anyio.fail_after(DEADLINE):
        async with running(worker(store, registry_of((CREATE, create)))):
            job = await wait_for_job(store, domain, job_id, {JobStatus.NEW})
            # Several claim polls and rescues later, it still waits.
            await anyio.sleep(0.3)
            still = await store.get_job(domain.domain_id, job_id)

    assert texts(job)[-1] == "Worker lost (lease expired); retrying: attempt 2 of 2."
    assert still is not None
    assert still.status == JobStatus.NEW
