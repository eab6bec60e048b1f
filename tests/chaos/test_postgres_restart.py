"""PostgreSQL stopped and started again under load: meanwhile the API answers 503 with the JSON
error body and Retry-After; afterwards it recovers by itself, and no acknowledged job is lost."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.chaos.conftest import (
    ACTIVITY_LOG,
    AUTH,
    Processes,
    Submitter,
    all_jobs,
    assert_every_acknowledged_job_ran_once,
)
from tests.e2e.conftest import RunningServer
from tests.postgres_server import DEFAULT_TEST_POSTGRES, PG_ADMIN

pytestmark = [pytest.mark.chaos, pytest.mark.e2e, pytest.mark.postgres]

OUTAGE_SECONDS = 3.0


def pg_ctl(action: str, *arguments: str) -> None:
    version = max(path.name for path in Path("/etc/postgresql").iterdir())
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action, *arguments],
        check=True,
        timeout=60,
        capture_output=True,
    )


def wait_for_postgres(deadline_seconds: float = 30.0) -> None:
    async def ready() -> bool:
        try:
            connection = await asyncpg.connect(PG_ADMIN, timeout=2)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        await connection.close()
        return True

    deadline = time.monotonic() + deadline_seconds
    while not asyncio.run(ready()):
        assert time.monotonic() < deadline, "PostgreSQL did not come back"
        time.sleep(0.2)


@pytest.fixture
def postgres_control() -> Iterator[Callable[[str], None]]:
    """Stop or start the server; whatever happens, it runs again after the test."""
    if shutil.which("pg_ctlcluster") is None or not Path("/etc/postgresql").is_dir():
        pytest.skip("needs a local PostgreSQL cluster managed by pg_ctlcluster")
    if PG_ADMIN != DEFAULT_TEST_POSTGRES:
        pytest.skip("restarts the local cluster, not the ACTIVITYLOG_TEST_POSTGRES server")
    stopped = False

    def control(action: str) -> None:
        nonlocal stopped
        if action == "stop":
            stopped = True
            pg_ctl("stop", "-m", "fast")
        else:
            pg_ctl("start")
            stopped = False
            wait_for_postgres()

    yield control
    if stopped:
        pg_ctl("start")
        wait_for_postgres()


async def load_through_an_outage(
    server: RunningServer, control: Callable[[str], None]
) -> tuple[Submitter, list[httpx.Response]]:
    submitter = Submitter(lambda: server.url)
    names = (f"cache{index}" for index in itertools.count())
    probes: list[httpx.Response] = []
    stop = asyncio.Event()

    async def client() -> None:
        while not stop.is_set():
            await submitter.create(next(names), steps="3", delay="0.1")
            await asyncio.sleep(0.05)

    async def probe() -> None:
        # A search always reads the database (an ended job's body is served from a cache).
        async with httpx.AsyncClient(base_url=server.url, auth=AUTH, timeout=10) as http:
            while not stop.is_set():
                probes.append(await http.get(f"{ACTIVITY_LOG}/filter", params={"limit": 1}))
                await asyncio.sleep(0.1)

    tasks = [asyncio.create_task(client()) for _ in range(3)] + [asyncio.create_task(probe())]
    await asyncio.sleep(1.0)
    await asyncio.to_thread(control, "stop")
    await asyncio.sleep(OUTAGE_SECONDS)
    await asyncio.to_thread(control, "start")
    await _until_answered(probes)
    await asyncio.sleep(1.0)  # load on the recovered server, too
    stop.set()
    await asyncio.gather(*tasks)
    return submitter, probes


async def _until_answered(probes: list[httpx.Response], deadline_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while not (probes and probes[-1].status_code == 200):
        assert time.monotonic() < deadline, "the API did not recover"
        await asyncio.sleep(0.1)


def test_the_api_answers_503_while_postgres_is_down_and_loses_no_job(
    processes_for: Callable[..., Processes],
    postgres_url: str,
    postgres_control: Callable[[str], None],
) -> None:
    server = processes_for(postgres_url).serve("--concurrency", "16")

    submitter, probes = asyncio.run(load_through_an_outage(server, postgres_control))
    jobs = all_jobs(server.url)

    statuses = {probe.status_code for probe in probes}
    assert statuses == {200, 503}, statuses
    for answer in [*submitter.unavailable, *(p for p in probes if p.status_code == 503)]:
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["retry-after"]
        assert answer.json()["status"] == "503"
    assert submitter.unavailable, "no submission met the outage"
    assert_every_acknowledged_job_ran_once(jobs, submitter.acknowledged)
