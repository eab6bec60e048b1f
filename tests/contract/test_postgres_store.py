"""What only the PostgreSQL store has: other processes, lost connections, wake-ups, locks.

A TCP proxy in front of the server plays the network: stopping it is the database going
away, freezing it is a database that stops answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from activitylog import errors
from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.domain.search import JobQuery
from activitylog.store.base import open_store
from activitylog.store.postgres import PostgresStore, translate_error
from tests.conftest import claim_next_job
from tests.contract.conftest import (
    DOMAIN,
    WORKER,
    eventually,
    operation,
    settle_wakeups,
)
from tests.postgres_server import PG_ADMIN, PG_HOST, PG_PORT, with_address
from tests.postgres_server import database_url as postgres_database

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

QUICK: dict[str, Any] = {"command_timeout": 0.5, "acquire_timeout": 0.5, "connect_timeout": 0.5}


class TcpProxy:
    """Forwards 127.0.0.1:<port> to the PostgreSQL server, until told otherwise."""

    def __init__(self) -> None:
        self.port = 0
        self.flowing = asyncio.Event()
        self.flowing.set()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Refuse new connections and cut the open ones, as a database going down does."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    def url(self, database_url: str) -> str:
        return with_address(database_url, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(PG_HOST, PG_PORT)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, upstream_writer}
        pipes = [
            asyncio.create_task(self._pipe(reader, upstream_writer)),
            asyncio.create_task(self._pipe(upstream_reader, writer)),
        ]
        self._pipes.update(pipes)
        await asyncio.gather(*pipes, return_exceptions=True)
        self._pipes.difference_update(pipes)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while data := await source.read(65536):
                await self.flowing.wait()
                sink.write(data)
                await sink.drain()
        except OSError:
            pass
        finally:
            sink.transport.abort()


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    running = TcpProxy()
    await running.start()
    yield running
    running.flowing.set()
    await running.stop()


OpenPostgres = Callable[..., Awaitable[PostgresStore]]


@pytest.fixture
async def open_postgres() -> AsyncIterator[OpenPostgres]:
    """Opens PostgresStores with the given URL and options; closes them after the test."""
    opened: list[PostgresStore] = []

    async def open_one(url: str, **options: Any) -> PostgresStore:
        store = PostgresStore(url, **options)
        await store.open()
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        await store.close()


def a_closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_an_unreachable_server_is_unavailable_at_open() -> None:
    store = PostgresStore(f"postgresql://postgres@127.0.0.1:{a_closed_port()}/test", **QUICK)
    with pytest.raises(errors.StoreUnavailable) as raised:
        await store.open()
    assert isinstance(raised.value.__cause__, OSError)
    await store.close()


async def test_a_missing_database_is_unavailable_at_open() -> None:
    store = PostgresStore(postgres_database("activitylog_no_such_database"), **QUICK)
    with pytest.raises(errors.StoreUnavailable) as raised:
        await store.open()
    assert isinstance(raised.value.__cause__, asyncpg.InvalidCatalogNameError)


async def test_a_server_that_never_answers_is_unavailable_at_open(proxy: TcpProxy) -> None:
    proxy.flowing.clear()
    store = PostgresStore(proxy.url(PG_ADMIN), **QUICK)
    async with asyncio.timeout(5):
        with pytest.raises(errors.StoreUnavailable):
            await store.open()


async def test_the_pool_size_setting_bounds_the_pool(postgres_url: str) -> None:
    # --db-pool-size / ACTIVITYLOG_DB_POOL_SIZE, as serve and worker pass it on.
    store = open_store(postgres_url, pool_size=3)
    await store.open()
    try:
        assert isinstance(store, PostgresStore)
        assert store._pool.get_max_size() == 3
        await eventually(lambda: store.listening)  # not closed while its listener connects
    finally:
        await store.close()


async def test_a_store_that_is_not_open_is_unavailable(postgres_url: str) -> None:
    store = PostgresStore(postgres_url)
    with pytest.raises(errors.StoreUnavailable):
        await store.get_domain(DOMAIN)


async def test_the_pool_recovers_when_the_database_comes_back(
    postgres_url: str, proxy: TcpProxy, open_postgres: OpenPostgres
) -> None:
    store = await open_postgres(proxy.url(postgres_url), **QUICK)
    domain = await store.create_domain(DOMAIN)
    await proxy.stop()
    calls: list[Callable[[], Awaitable[Any]]] = [
        lambda: store.get_domain(DOMAIN),
        lambda: store.submit_operation(operation(domain)),
        lambda: claim_next_job(store, WORKER, 30.0),
        lambda: store.search_jobs(domain.domain_id, JobQuery()),
    ]
    for call in calls:
        async with asyncio.timeout(5):
            with pytest.raises(errors.StoreUnavailable) as raised:
                await call()
        assert raised.value.__cause__ is not None
    await proxy.start()
    assert await store.get_domain(DOMAIN) == domain
    submitted = await store.submit_operation(operation(domain))
    claimed = await claim_next_job(store, WORKER, 30.0)
    assert claimed is not None
    assert claimed.job_id == submitted.job_id


async def test_a_database_that_stops_answering_times_out_then_recovers(
    postgres_url: str, proxy: TcpProxy, open_postgres: OpenPostgres
) -> None:
    store = await open_postgres(proxy.url(postgres_url), **QUICK)
    domain = await store.create_domain(DOMAIN)
    proxy.flowing.clear()
    async with asyncio.timeout(5):
        with pytest.raises(errors.StoreUnavailable):
            await store.get_domain(DOMAIN)
    proxy.flowing.set()
    async with asyncio.timeout(5):
        while True:
            with contextlib.suppress(errors.StoreUnavailable):
                assert await store.get_domain(DOMAIN) == domain
                break
            await asyncio.sleep(0.1)


async def test_a_submission_in_another_process_wakes_a_waiting_worker(
    postgres_url: str, open_postgres: OpenPostgres
) -> None:
    worker_side = await open_postgres(postgres_url)
    api_side = await open_postgres(postgres_url)
    domain = await api_side.create_domain(DOMAIN)
    await settle_wakeups(worker_side)
    waiting = asyncio.create_task(worker_side.wait_for_new_jobs(10.0))
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    await api_side.submit_operation(operation(domain))
    await asyncio.wait_for(waiting, 5.0)
    assert asyncio.get_running_loop().time() - started < 2.0


async def test_the_listener_reconnects_by_itself(
    postgres_url: str, proxy: TcpProxy, open_postgres: OpenPostgres
) -> None:
    worker_side = await open_postgres(proxy.url(postgres_url), **QUICK)
    api_side = await open_postgres(postgres_url)
    domain = await api_side.create_domain(DOMAIN)
    await worker_side.wait_for_new_jobs(0.01)
    await eventually(lambda: worker_side.listening)
    await proxy.stop()
    await eventually(lambda: not worker_side.listening)
    await worker_side.wait_for_new_jobs(0.01)  # waiting while the database is away is fine
    await proxy.start()
    await eventually(lambda: worker_side.listening)
    await worker_side.wait_for_new_jobs(0.01)  # spend the wake-up that reconnecting gives
    waiting = asyncio.create_task(worker_side.wait_for_new_jobs(10.0))
    await asyncio.sleep(0.05)
    await api_side.submit_operation(operation(domain))
    await asyncio.wait_for(waiting, 5.0)


async def test_a_claim_skips_a_locked_job_instead_of_waiting(
    postgres_url: str, open_postgres: OpenPostgres
) -> None:
    store = await open_postgres(postgres_url)
    domain = await store.create_domain(DOMAIN)
    first = await store.submit_operation(operation(domain, "first"))
    second = await store.submit_operation(operation(domain, "second"))
    other = await asyncpg.connect(postgres_url)
    try:
        async with other.transaction():
            await other.execute("SELECT 1 FROM jobs WHERE job_id = $1 FOR UPDATE", first.job_id)
            async with asyncio.timeout(2):
                claimed = await claim_next_job(store, WORKER, 30.0)
        assert claimed is not None
        assert claimed.job_id == second.job_id
    finally:
        await other.close()
    again = await claim_next_job(store, WORKER, 30.0)
    assert again is not None
    assert again.job_id == first.job_id


async def test_operations_on_one_instance_queue_on_its_row(
    postgres_url: str, open_postgres: OpenPostgres
) -> None:
    store = await open_postgres(postgres_url)
    domain = await store.create_domain(DOMAIN)
    created = await store.submit_operation(operation(domain))
    claimed = await claim_next_job(store, WORKER, 30.0)
    assert claimed is not None
    await store.finish_job(claimed, JobStatus.SUCCEED, [])
    other = await asyncpg.connect(postgres_url)
    try:
        async with other.transaction():
            await other.execute(
                "SELECT 1 FROM service_instances WHERE service_id = $1 FOR UPDATE",
                created.service_id,
            )
            stop = operation(domain, operation_type=OperationType.STOP_SERVICE)
            submitting = asyncio.create_task(store.submit_operation(stop))
            await asyncio.sleep(0.3)
            assert not submitting.done()
        submitted = await asyncio.wait_for(submitting, 5)
    finally:
        await other.close()
    assert submitted.service_id == created.service_id


_COPY_JOB = """
INSERT INTO jobs (activity_log_id, domain_id, identity_domain, service_id, service_name,
                  service_type, operation_type, status, auth_domain, auth_user, initiated_by,
                  parameters, previous_instance_state, start_date, run_after)
SELECT nextval('activity_log_id_seq'), domain_id, identity_domain, service_id, service_name,
       service_type, 'BACKUP', 'NEW', auth_domain, auth_user, initiated_by, parameters,
       previous_instance_state, start_date, run_after
FROM jobs WHERE job_id = $1
"""
_COPY_INSTANCE = """
INSERT INTO service_instances (domain_id, service_type, name, state, parameters, created_by,
                               created_at, updated_at)
SELECT domain_id, service_type, name, 'running', parameters, created_by, created_at, updated_at
FROM service_instances WHERE service_id = $1
"""


@pytest.mark.parametrize(
    ("statement", "expected"),
    [(_COPY_JOB, errors.OperationInFlight), (_COPY_INSTANCE, errors.InstanceExists)],
    ids=["in-flight", "live-name"],
)
async def test_the_unique_indexes_are_the_backstop_and_map_to_their_errors(
    postgres_url: str,
    open_postgres: OpenPostgres,
    statement: str,
    expected: type[errors.ActivityLogError],
) -> None:
    # Even a row written around the store's checks is refused by the database itself.
    store = await open_postgres(postgres_url)
    domain = await store.create_domain(DOMAIN)
    created = await store.submit_operation(operation(domain))
    key = created.job_id if statement is _COPY_JOB else created.service_id
    other = await asyncpg.connect(postgres_url)
    try:
        with pytest.raises(asyncpg.UniqueViolationError) as raised:
            await other.execute(statement, key)
    finally:
        await other.close()
    assert type(translate_error(raised.value)) is expected


async def test_a_name_with_a_nul_character_is_refused_as_invalid(
    postgres_url: str, open_postgres: OpenPostgres
) -> None:
    # SQLite would store it; PostgreSQL text cannot hold it. The API's name rules keep it out.
    # (A message with NUL is kept, with U+FFFD in its place: test_claims.py.)
    store = await open_postgres(postgres_url)
    with pytest.raises(errors.InvalidRequest):
        await store.create_domain("us\x00example")
