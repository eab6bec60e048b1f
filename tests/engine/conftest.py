"""The Worker against a real SQLite store, with service types defined by each test."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection
from typing import Any, Protocol

import anyio
import pytest

from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import TERMINAL_STATUSES
from activitylog.engine.handlers import Handler, ServiceType, ServiceTypeRegistry
from activitylog.engine.worker import Worker
from activitylog.store.base import Store
from activitylog.store.records import Domain, JobView, OperationRequest

DEADLINE = 10.0  # seconds any single wait in these tests may take before it fails
SERVICE_TYPE = "testsvc"


@pytest.fixture
async def domain(store: Store) -> Domain:
    return await store.create_domain("exampledomain")


class Submit(Protocol):
    async def __call__(
        self,
        service_name: str,
        operation_type: str = OperationType.CREATE_SERVICE,
        *,
        service_type: str = SERVICE_TYPE,
        parameters: dict[str, Any] | None = None,
        max_attempts: int = 1,
        backoff_ms: int = 0,
    ) -> int: ...


@pytest.fixture
def submit(store: Store, domain: Domain) -> Submit:
    """Submit an operation; returns its job id."""

    async def submit_operation(
        service_name: str,
        operation_type: str = OperationType.CREATE_SERVICE,
        *,
        service_type: str = SERVICE_TYPE,
        parameters: dict[str, Any] | None = None,
        max_attempts: int = 1,
        backoff_ms: int = 0,
    ) -> int:
        submitted = await store.submit_operation(
            OperationRequest(
                domain_id=domain.domain_id,
                identity_domain=domain.name,
                service_type=service_type,
                service_name=service_name,
                operation_type=operation_type,
                parameters=parameters or {},
                auth_domain=domain.name,
                auth_user="joe@example.com",
                max_attempts=max_attempts,
                backoff_ms=backoff_ms,
            )
        )
        return submitted.job_id

    return submit_operation


def registry_of(*handlers: tuple[str, Handler], name: str = SERVICE_TYPE) -> ServiceTypeRegistry:
    return ServiceTypeRegistry([ServiceType(name=name, handlers=dict(handlers))])


@contextlib.asynccontextmanager
async def running(worker: Worker) -> AsyncIterator[Worker]:
    """Run the worker in the background; cancel it, and wait for it to stop, on exit."""
    async with anyio.create_task_group() as group:
        group.start_soon(worker.run)
        yield worker
        group.cancel_scope.cancel()


async def wait_for_job(
    store: Store,
    domain: Domain,
    job_id: int,
    statuses: Collection[str] = TERMINAL_STATUSES,
) -> JobView:
    """Poll until the job has one of ``statuses``; the caller's deadline bounds the wait."""
    while True:
        job = await store.get_job(domain.domain_id, job_id)
        assert job is not None
        if job.status in statuses:
            return job
        await anyio.sleep(0.01)


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll until ``condition()`` holds; the caller's deadline bounds the wait."""
    # A poll, not an Event: the conditions read state the worker's tasks change on their own.
    while not condition():
        await anyio.sleep(0.005)


def texts(job: JobView) -> list[str]:
    return [message.text for message in job.messages]


def steal_lease(path: str, job_id: int) -> None:
    """Another worker's claim, as the database sees it: the job's lease token changes."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    try:
        connection.execute(
            "UPDATE jobs SET lease_token = 'stolen-by-another-worker' WHERE job_id = ?", (job_id,)
        )
    finally:
        connection.close()
