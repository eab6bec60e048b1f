"""A submission records its operation's policy (attempts, backoff) on the job, for the rescuer."""

from __future__ import annotations

import contextlib
import sqlite3

import httpx
import pytest

from activitylog.engine.handlers import JobContext, ServiceType, ServiceTypeRegistry
from activitylog.engine.service_types_config import OperationPolicy
from activitylog.serving import create_app
from activitylog.settings import Settings
from tests.api.conftest import store_of
from tests.conftest import DOMAIN, PASSWORD, USER, add_tenant, basic_auth

pytestmark = pytest.mark.anyio

INSTANCES = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/retried/instances"


async def nothing(context: JobContext) -> None:
    """Never runs: the app below has no worker."""


async def test_attempts_and_backoff_come_from_the_operation_policy(
    settings: Settings, sqlite_path: str
) -> None:
    service_type = ServiceType(
        "retried",
        {"CREATE_SERVICE": nothing, "STOP_SERVICE": nothing},
        policies={"CREATE_SERVICE": OperationPolicy(attempts=3, backoff=1.5)},
    )
    app = create_app(
        Settings(db=settings.db, run_worker=False), registry=ServiceTypeRegistry([service_type])
    )
    async with app.router.lifespan_context(app):
        await add_tenant(store_of(app))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://testserver",
            headers={"Authorization": basic_auth(USER, PASSWORD)},
        ) as client:
            answer = await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "A"}})
            assert answer.status_code == 202

    with contextlib.closing(sqlite3.connect(sqlite_path)) as connection:
        row = connection.execute("SELECT max_attempts, backoff_ms FROM jobs").fetchone()
    assert row == (3, 1500)
