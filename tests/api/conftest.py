"""Helpers for the in-process API tests: apps with chosen settings, clients, a job poller."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from activitylog.http.auth import Authenticator
from activitylog.store.base import Store
from tests.conftest import DOMAIN, INSTANCES, JOB_PREFIX, PASSWORD, USER, add_tenant, basic_auth

OTHER_DOMAIN = "OtherIdentityDomain"
OTHER_USER = "ann@other.example"
OTHER_PASSWORD = "annPassword"
TIMESTAMP = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000"
JOB_KEYS = [
    "activityLogId",
    "serviceName",
    "serviceType",
    "identityDomain",
    "serviceId",
    "jobId",
    "startDate",
    "endDate",
    "status",
    "operationId",
    "operationType",
    "summaryMessage",
    "authDomain",
    "authUser",
    "initiatedBy",
    "messages",
]
RUNNING_JOB_KEYS = [key for key in JOB_KEYS if key != "endDate"]

StartApp = Callable[..., Awaitable[Starlette]]
ClientFor = Callable[..., httpx.AsyncClient]


def count_verifies(authenticator: Authenticator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record the password of every argon2 verify the authenticator runs."""
    verified: list[str] = []
    check = authenticator._check

    def counting_check(stored_hash: str, password: str) -> bool:
        verified.append(password)
        return check(stored_hash, password)

    monkeypatch.setattr(authenticator, "_check", counting_check)
    return verified


def store_of(app: Starlette) -> Store:
    store: Store = app.state.context.store
    return store


@pytest.fixture
async def start_app(make_app: Callable[..., Starlette]) -> AsyncIterator[StartApp]:
    """Start an app with settings overrides (lifespan running, DOMAIN's admin added)."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides: Any) -> Starlette:
            application = make_app(**overrides)
            await stack.enter_async_context(application.router.lifespan_context(application))
            if await store_of(application).find_user(DOMAIN, USER) is None:
                await add_tenant(store_of(application))
            return application

        yield start


@pytest.fixture
async def client_for() -> AsyncIterator[ClientFor]:
    """Open a client on an app as a user (DOMAIN's admin by default, none for None)."""
    async with contextlib.AsyncExitStack() as stack:

        def open_client(
            app: Starlette,
            user: str | None = USER,
            password: str = PASSWORD,
            tenant: str | None = DOMAIN,
        ) -> httpx.AsyncClient:
            headers = {} if user is None else {"Authorization": basic_auth(user, password)}
            if tenant is not None:
                headers["X-ID-TENANT-NAME"] = tenant
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url="http://testserver",
                headers=headers,
            )
            stack.push_async_callback(client.aclose)
            return client

        yield open_client


@pytest.fixture
async def idle_client(
    start_app: StartApp, client_for: ClientFor, tmp_path: Path
) -> httpx.AsyncClient:
    """DOMAIN's admin on an app with no worker, and a database of its own: jobs stay NEW."""
    return client_for(await start_app(run_worker=False, db=str(tmp_path / "idle.db")))


async def create_cache(client: httpx.AsyncClient, name: str = "MyCache", **parameters: Any) -> int:
    """Ask for a cache; return the job id from the 202 body."""
    response = await client.post(
        INSTANCES, json={"serviceParameters": {"serviceName": name, **parameters}}
    )
    assert response.status_code == 202, response.text
    return int(response.json()["details"]["jobId"])


async def poll_job(
    client: httpx.AsyncClient,
    job_id: int,
    *statuses: str,
    deadline: float = 10.0,
    domain: str = DOMAIN,
) -> httpx.Response:
    """Poll the job until its status is one of ``statuses`` (SUCCEED); return that answer."""
    wanted = statuses or ("SUCCEED",)
    with anyio.fail_after(deadline):
        while True:
            response = await client.get(f"/paas/api/v1.1/activitylog/{domain}/job/{job_id}")
            assert response.status_code == 200, response.text
            if response.json()["status"] in wanted:
                return response
            await anyio.sleep(0.01)


async def wait_for_status(client: httpx.AsyncClient, job_id: int, *statuses: str) -> dict[str, Any]:
    """Poll the job until its status is one of ``statuses`` (SUCCEED); return that body."""
    body: dict[str, Any] = (await poll_job(client, job_id, *statuses)).json()
    return body


async def run_operation(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> int:
    """Submit an operation, expect 202, wait for SUCCEED; return the job id."""
    response = await client.request(method, url, **kwargs)
    assert response.status_code == 202, response.text
    job_id = int(response.json()["details"]["jobId"])
    await wait_for_status(client, job_id)
    return job_id


async def running_cache(client: httpx.AsyncClient, name: str = "MyCache") -> int:
    """A cache that exists and runs; return its create job's id."""
    job_id = await create_cache(client, name)
    await wait_for_status(client, job_id)
    return job_id


async def store_snapshot(client: httpx.AsyncClient) -> tuple[Any, ...]:
    """What a failed request must leave alone: every job, and every live instance."""
    jobs = await client.get(f"{JOB_PREFIX}/filter", params={"limit": "1000"})
    instances = await client.get(INSTANCES)
    assert jobs.status_code == instances.status_code == 200
    return jobs.json(), instances.json()


def set_start_dates(database: str, start_dates: dict[int, int]) -> None:
    """Move jobs' startDate (job id -> epoch ms) so that date filters have fixed answers."""
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.executemany(
            "UPDATE jobs SET start_date = ? WHERE job_id = ?",
            [(start, job_id) for job_id, start in start_dates.items()],
        )
