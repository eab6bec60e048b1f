"""Shared fixtures. Factories return callables; every store is real (SQLite file or PostgreSQL)."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from activitylog.passwords import password_hasher
from activitylog.serving import create_app
from activitylog.settings import Settings
from activitylog.store.base import Store
from activitylog.store.records import ClaimedJob
from activitylog.store.sqlite import SQLiteStore

DOMAIN = "ExampleIdentityDomain"
USER = "joe@example.com"
PASSWORD = "joePassword"
JOB_PREFIX = f"/paas/api/v1.1/activitylog/{DOMAIN}"
INSTANCES = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/caching/instances"
FAST_HASHER = password_hasher(fast=True)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def basic_auth(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture
def sqlite_path(tmp_path: Path) -> str:
    return str(tmp_path / "activitylog.db")


@pytest.fixture
def settings(sqlite_path: str) -> Settings:
    # A short shutdown grace: many tests stop their app while a handler still waits on a gate.
    return Settings(
        db=sqlite_path, demo_step_delay=0.0, poll_interval=0.2, concurrency=4, shutdown_grace=0.2
    )


@pytest.fixture
async def store(sqlite_path: str) -> AsyncIterator[Store]:
    """An open SQLite store on a fresh file (the contract suite adds PostgreSQL)."""
    opened = SQLiteStore(sqlite_path)
    await opened.open()
    yield opened
    await opened.close()


AddUser = Callable[..., Awaitable[None]]


async def add_tenant(
    store: Store,
    domain: str = DOMAIN,
    user: str = USER,
    password: str = PASSWORD,
    role: str = "admin",
) -> None:
    if await store.get_domain(domain) is None:
        await store.create_domain(domain)
    await store.create_user(domain, user, FAST_HASHER.hash(password), role)


@pytest.fixture
def make_app(settings: Settings) -> Callable[..., Starlette]:
    def make(**overrides: Any) -> Starlette:
        return create_app(Settings(**{**_as_dict(settings), **overrides}))

    return make


def _as_dict(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in Settings.__dataclass_fields__}


@pytest.fixture
async def app(make_app: Callable[..., Starlette]) -> AsyncIterator[Starlette]:
    """The app with its lifespan running (store open, in-process worker on), and a tenant."""
    application = make_app()
    async with application.router.lifespan_context(application):
        await add_tenant(application.state.context.store)
        yield application


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client authenticated as the admin user of DOMAIN."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://testserver",
        headers={"Authorization": basic_auth(USER, PASSWORD), "X-ID-TENANT-NAME": DOMAIN},
    ) as http:
        yield http


async def claim_next_job(store: Store, owner: str, lease_seconds: float) -> ClaimedJob | None:
    """One job, as a worker with one free slot claims it."""
    claimed = await store.claim_jobs(owner, lease_seconds, 1)
    return claimed[0] if claimed else None


def metric_value(text: str, name: str) -> float:
    """A sample's value in a /metrics page, ``name`` with any labels as the page writes them
    (``jobs_total{status="SUCCEED"}``); 0 when it is not there yet."""
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, flags=re.MULTILINE)
    return float(match.group(1)) if match else 0.0
