"""The contract suite's fixtures: every test runs once on SQLite and once on PostgreSQL.

Each PostgreSQL test gets a fresh database cloned from a template that is migrated once per
session. PostgreSQL must be up (CI guarantees it): when it is not, the suite fails, loudly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest

from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.store.base import Store, open_store
from activitylog.store.migrate import migrate_postgres
from activitylog.store.records import ClaimedJob, Domain, OperationRequest, SubmittedJob
from tests.conftest import claim_next_job
from tests.postgres_server import PG_ADMIN, database_url, require_postgres_marker

T = TypeVar("T")

DOMAIN = "ExampleIdentityDomain"
USER = "joe@example.com"
WORKER = "contract-worker"


def run_blocking(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on an event loop of its own, in a thread of its own, so
    that sync fixtures never meddle with the loop the tests run on."""
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


async def pg_admin(*statements: str) -> None:
    """Run statements on the server's admin database (CREATE/DROP DATABASE cannot run in a
    transaction, so each runs on its own)."""
    connection = await asyncpg.connect(PG_ADMIN, timeout=10)
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


async def create_empty_database(name: str) -> str:
    await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    return database_url(name)


async def drop_database(name: str) -> None:
    await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database_name(kind: str) -> str:
    return f"activitylog_{kind}_{os.getpid()}_{secrets.token_hex(4)}"


async def _build_template(name: str) -> None:
    url = await create_empty_database(name)
    connection = await asyncpg.connect(url, timeout=10)
    try:
        await migrate_postgres(connection)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A migrated database to clone, built once per session."""
    name = f"activitylog_template_{os.getpid()}"
    try:
        run_blocking(_build_template(name))
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN}: {exc!r}. The contract suite runs every "
            "test on PostgreSQL too; start it (scripts/test does) and run again.",
            pytrace=False,
        )
    yield name
    run_blocking(drop_database(name))


@pytest.fixture
def postgres_url(postgres_template: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test, cloned from the template."""
    require_postgres_marker(request)
    name = fresh_database_name("test")
    run_blocking(pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{postgres_template}"'))
    try:
        yield database_url(name)
    finally:
        run_blocking(drop_database(name))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database(dialect: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A fresh database for this test: a SQLite path, or a PostgreSQL URL."""
    if dialect == "sqlite":
        return str(tmp_path / "activitylog.db")
    # Looked up only here, so that a SQLite-only run (-m "not postgres") needs no server.
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def store(database: str) -> AsyncIterator[Store]:
    """An open store on a fresh database: once SQLite, once PostgreSQL."""
    opened = open_store(database)
    await opened.open()
    yield opened
    await opened.close()


OpenStore = Callable[[], Awaitable[Store]]


@pytest.fixture
async def open_another_store(database: str) -> AsyncIterator[OpenStore]:
    """Opens more stores on the test's database, as other processes would; closes them after."""
    opened: list[Store] = []

    async def open_one() -> Store:
        another = open_store(database)
        await another.open()
        opened.append(another)
        return another

    yield open_one
    for another in opened:
        await another.close()


@pytest.fixture
async def domain(store: Store) -> Domain:
    return await store.create_domain(DOMAIN)


def operation(
    domain: Domain,
    name: str = "MyCache",
    operation_type: str = OperationType.CREATE_SERVICE,
    parameters: dict[str, Any] | None = None,
    service_type: str = "caching",
) -> OperationRequest:
    return OperationRequest(
        domain_id=domain.domain_id,
        identity_domain=domain.name,
        service_type=service_type,
        service_name=name,
        operation_type=operation_type,
        parameters=dict(parameters or {}),
        auth_domain=domain.name,
        auth_user=USER,
    )


Submit = Callable[..., Awaitable[SubmittedJob]]


@pytest.fixture
def submit(store: Store, domain: Domain) -> Submit:
    """Submit an operation in DOMAIN: ``await submit("MyCache", "STOP_SERVICE")``."""

    async def submit_one(
        name: str = "MyCache",
        operation_type: str = OperationType.CREATE_SERVICE,
        parameters: dict[str, Any] | None = None,
        *,
        service_type: str = "caching",
    ) -> SubmittedJob:
        request = operation(domain, name, operation_type, parameters, service_type)
        return await store.submit_operation(request)

    return submit_one


RunNext = Callable[..., Awaitable[ClaimedJob]]


@pytest.fixture
def run_next(store: Store) -> RunNext:
    """Claim the next job, check it is the one expected, and end it with ``status``."""

    async def run(
        job_id: int, status: JobStatus = JobStatus.SUCCEED, messages: Sequence[str] = ()
    ) -> ClaimedJob:
        claimed = await claim_next_job(store, WORKER, 30.0)
        assert claimed is not None
        assert claimed.job_id == job_id
        await store.finish_job(claimed, status, messages)
        return claimed

    return run


Create = Callable[..., Awaitable[SubmittedJob]]


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the condition never came true"
        await asyncio.sleep(0.02)


async def settle_wakeups(store: Store) -> None:
    """Start listening for new jobs and spend the wake-up that comes with connecting (on
    PostgreSQL; on SQLite there is nothing to wait for), so that the next wait is quiet."""
    await store.wait_for_new_jobs(0.01)
    await eventually(lambda: getattr(store, "listening", True))
    await store.wait_for_new_jobs(0.01)


@pytest.fixture
def create_running(submit: Submit, run_next: RunNext) -> Create:
    """Create an instance and run its CREATE_SERVICE job to success: it is then running."""

    async def create(
        name: str = "MyCache",
        parameters: dict[str, Any] | None = None,
        *,
        service_type: str = "caching",
    ) -> SubmittedJob:
        created = await submit(name, parameters=parameters, service_type=service_type)
        await run_next(created.job_id)
        return created

    return create
