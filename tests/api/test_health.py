"""/health/live and /health/ready: 200 or 503, with a JSON body saying what is wrong."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.api.conftest import ClientFor, StartApp, store_of

pytestmark = pytest.mark.anyio


async def test_ready_with_a_worker_and_live(start_app: StartApp, client_for: ClientFor) -> None:
    client = client_for(await start_app(), user=None)
    live = await client.get("/health/live")
    assert (live.status_code, live.json()) == (200, {"status": "ok"})
    ready = await client.get("/health/ready")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "checks": {"store": "ok", "migrations": "ok", "worker": "ok"},
    }
    assert (await client.get("/health")).json() == {"status": "ok"}  # unchanged


async def test_an_api_only_process_needs_no_worker(
    start_app: StartApp, client_for: ClientFor, tmp_path: Path
) -> None:
    client = client_for(await start_app(run_worker=False, db=str(tmp_path / "a.db")), user=None)
    ready = (await client.get("/health/ready")).json()
    assert ready["status"] == "ready"
    assert ready["checks"]["worker"] == "not run by this process"


async def test_pending_migrations_and_a_stopped_worker_are_not_ready(
    start_app: StartApp, client_for: ClientFor, tmp_path: Path
) -> None:
    db = tmp_path / "a.db"
    app = await start_app(db=str(db))
    client = client_for(app, user=None)
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM schema_migrations WHERE version = 7")
    app.state.readiness.expect_worker(lambda: False)
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    checks = ready.json()["checks"]
    assert checks["migrations"].startswith("pending: [7]")
    assert checks["worker"] == "the worker stopped"
    assert checks["store"] == "ok"


async def test_a_store_that_does_not_answer_is_not_ready(
    start_app: StartApp, client_for: ClientFor, tmp_path: Path
) -> None:
    app = await start_app(run_worker=False, db=str(tmp_path / "a.db"))
    client = client_for(app, user=None)
    await store_of(app).close()
    ready = await client.get("/health/ready")
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert ready.json()["checks"]["store"] != "ok"
    assert (await client.get("/health/live")).status_code == 200
