"""Scale-out: several API and worker processes share one database, which is their only link."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningServer, StartServer, StartWorker

DOMAIN = "ExampleIdentityDomain"
AUTH = ("joe@example.com", "joePassword")


async def submit_all(servers: list[RunningServer], count: int) -> tuple[list[int], list[int]]:
    """Create `count` caches, spread round-robin over the API processes; return job ids and
    every status code seen."""
    statuses: list[int] = []
    job_ids: list[int] = []
    limit = asyncio.Semaphore(32)

    async def create(client: httpx.AsyncClient, index: int) -> None:
        async with limit:
            answer = await client.post(
                f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/caching/instances",
                json={"serviceParameters": {"serviceName": f"cache{index}", "size": "1"}},
            )
        statuses.append(answer.status_code)
        if answer.status_code == 202:
            job_ids.append(int(answer.json()["details"]["jobId"]))

    clients = [httpx.AsyncClient(base_url=s.url, auth=AUTH, timeout=30) for s in servers]
    try:
        await asyncio.gather(*(create(clients[i % len(clients)], i) for i in range(count)))
    finally:
        for client in clients:
            await client.aclose()
    return job_ids, statuses


async def all_jobs(url: str, expected: int, deadline_seconds: float) -> list[dict[str, Any]]:
    """Page through the filter until every job has ended (or the deadline passes)."""
    deadline = time.monotonic() + deadline_seconds
    async with httpx.AsyncClient(base_url=url, auth=AUTH, timeout=30) as client:
        while True:
            pending = (
                await client.get(
                    f"/paas/api/v1.1/activitylog/{DOMAIN}/filter",
                    params={"status": ["NEW", "RUNNING"], "limit": 0},
                )
            ).json()["totalCount"]
            if pending == 0 or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        jobs: list[dict[str, Any]] = []
        async for page in _pages(client):
            jobs.extend(page)
    assert len(jobs) == expected
    return jobs


async def _pages(client: httpx.AsyncClient) -> AsyncIterator[list[dict[str, Any]]]:
    offset = 0
    while True:
        page = (
            await client.get(
                f"/paas/api/v1.1/activitylog/{DOMAIN}/filter",
                params={"limit": 1000, "offset": offset, "orderBy": "jobId:asc"},
            )
        ).json()["activityLogs"]
        if not page:
            return
        yield page
        offset += len(page)


def assert_each_ran_once_in_order(jobs: list[dict[str, Any]]) -> None:
    for job in jobs:
        assert job["status"] == "SUCCEED", job
        messages = [m["message"] for m in job["messages"]]
        assert messages.count("Activity Started") == 1, messages
        assert messages[0] == "Activity Submitted"
        assert messages[1] == "Activity Started"
        assert messages[-1] == "Activity Ended"
        dates = [m["activityDate"] for m in job["messages"]]
        assert dates == sorted(dates)


def run_scale_out(
    start_server: StartServer,
    start_worker: StartWorker,
    db: str,
    *,
    api_processes: int,
    worker_processes: int,
    operations: int,
) -> None:
    servers = [
        start_server("--db", db, "--no-worker", "--demo", "--log-level", "warning")
        for _ in range(api_processes)
    ]
    for _ in range(worker_processes):
        start_worker(
            "--db", db, "--demo-step-delay", "0", "--concurrency", "8", "--log-level", "warning"
        )
    job_ids, statuses = asyncio.run(submit_all(servers, operations))
    assert all(status < 500 for status in statuses), sorted(set(statuses))
    assert statuses.count(202) == operations
    assert len(set(job_ids)) == operations
    jobs = asyncio.run(all_jobs(servers[0].url, operations, deadline_seconds=240))
    assert sorted(job["jobId"] for job in jobs) == sorted(job_ids)
    assert_each_ran_once_in_order(jobs)


@pytest.mark.postgres
def test_three_apis_and_three_workers_on_postgresql(
    start_server: StartServer, start_worker: StartWorker, postgres_url: str
) -> None:
    run_scale_out(
        start_server,
        start_worker,
        postgres_url,
        api_processes=3,
        worker_processes=3,
        operations=2000,
    )


def test_two_apis_and_two_workers_on_one_sqlite_file(
    start_server: StartServer, start_worker: StartWorker
) -> None:
    run_scale_out(
        start_server, start_worker, "shared.db", api_processes=2, worker_processes=2, operations=200
    )
