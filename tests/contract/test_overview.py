"""The console's Overview read (store.job_overview): jobs started and ended per bucket, exact
duration percentiles by operation type, waiting jobs and lease holders, on both databases."""

from __future__ import annotations

import sqlite3
from typing import Any

import asyncpg
import pytest

from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.store.base import Store
from activitylog.store.records import Domain, JobOverview, OperationDurations
from tests.conftest import claim_next_job
from tests.contract.conftest import WORKER, RunNext, Submit, operation
from tests.contract.test_retention import query_rows

pytestmark = pytest.mark.anyio

MINUTE = 60_000
HOUR = 60 * MINUTE
SINCE = 1_700_000_000_000 - 1_700_000_000_000 % HOUR  # an hour's start
UNTIL = SINCE + HOUR
CREATE, STOP = OperationType.CREATE_SERVICE.value, OperationType.STOP_SERVICE.value
SUCCEED, FAILED, WARN = JobStatus.SUCCEED, JobStatus.FAILED, JobStatus.WARN

# (operation type, status, start, end) of each ended job, relative to SINCE.
ENDED_JOBS = [
    *[(CREATE, SUCCEED, i * 30_000, i * 30_000 + (i + 1) * 1000) for i in range(7)],
    (CREATE, FAILED, 7 * 30_000, 7 * 30_000 + 8000),
    (CREATE, FAILED, 8 * 30_000, 8 * 30_000 + 9000),
    (CREATE, WARN, 9 * 30_000, 9 * 30_000 + 10_000),
    (STOP, SUCCEED, 10 * MINUTE, 10 * MINUTE + 600),
    (STOP, FAILED, 10 * MINUTE + 1000, 10 * MINUTE + 1200),
    (STOP, SUCCEED, 10 * MINUTE + 2000, 10 * MINUTE + 2400),
    # Started before the window, ended in it: ended, not started, and its duration counts.
    (STOP, SUCCEED, -2 * MINUTE, 30 * MINUTE),
    # Before the window, and after it: in neither.
    (CREATE, FAILED, -3 * MINUTE, -MINUTE),
    (CREATE, SUCCEED, HOUR, HOUR + 1000),
]


async def execute(database: str, sql: str, *args: Any) -> None:
    if database.startswith("postgresql://"):
        connection = await asyncpg.connect(database)
        try:
            numbered = sql.replace("?", "${}").format(*range(1, len(args) + 1))
            await connection.execute(numbered, *args)
        finally:
            await connection.close()
        return
    with sqlite3.connect(database) as connection:
        connection.execute(sql, args)


@pytest.fixture
async def seeded(
    store: Store, domain: Domain, database: str, submit: Submit, run_next: RunNext
) -> dict[str, int]:
    """The ENDED_JOBS at their times, a job of another domain in the window, one RUNNING job
    (a lease of WORKER's) and one NEW job waiting."""
    for n, (operation_type, status, start, end) in enumerate(ENDED_JOBS):
        job = await submit(f"cache{n}")
        await run_next(job.job_id, status)
        await execute(
            database,
            "UPDATE jobs SET operation_type = ?, start_date = ?, end_date = ? WHERE job_id = ?",
            operation_type,
            SINCE + start,
            SINCE + end,
            job.job_id,
        )
    other = await store.create_domain("otherdomain")
    elsewhere = await store.submit_operation(operation(other, "x"))
    claimed = await claim_next_job(store, WORKER, 30.0)
    assert claimed is not None
    assert claimed.job_id == elsewhere.job_id
    await store.finish_job(claimed, FAILED, [])
    await execute(
        database,
        "UPDATE jobs SET start_date = ?, end_date = ? WHERE job_id = ?",
        SINCE + 5 * MINUTE,
        SINCE + 6 * MINUTE,
        elsewhere.job_id,
    )
    running = await submit("running")
    claimed = await claim_next_job(store, WORKER, 30.0)
    assert claimed is not None
    assert claimed.job_id == running.job_id
    waiting = await submit("waiting")
    return {"running": running.job_id, "waiting": waiting.job_id}


async def overview(store: Store, domain: Domain, bucket_ms: int = MINUTE) -> JobOverview:
    return await store.job_overview(domain.domain_id, SINCE, UNTIL, bucket_ms)


async def test_jobs_started_and_ended_per_bucket(
    store: Store, domain: Domain, seeded: dict[str, int]
) -> None:
    found = await overview(store, domain)
    # Two jobs a minute from minute 0 to 4, the three STOPs in minute 10.
    assert found.started == {
        SINCE: 2,
        SINCE + MINUTE: 2,
        SINCE + 2 * MINUTE: 2,
        SINCE + 3 * MINUTE: 2,
        SINCE + 4 * MINUTE: 2,
        SINCE + 10 * MINUTE: 3,
    }
    expected: dict[int, dict[str, int]] = {}
    for _, status, _start, end in ENDED_JOBS:
        if 0 <= end < HOUR:
            bucket = SINCE + end - end % MINUTE
            expected.setdefault(bucket, {}).setdefault(status.value, 0)
            expected[bucket][status.value] += 1
    assert found.ended == expected
    assert sum(sum(statuses.values()) for statuses in found.ended.values()) == 14
    assert sum(statuses.get("FAILED", 0) for statuses in found.ended.values()) == 3


async def test_buckets_of_an_hour(store: Store, domain: Domain, seeded: dict[str, int]) -> None:
    found = await overview(store, domain, HOUR)
    assert found.started == {SINCE: 13}
    assert found.ended == {SINCE: {"SUCCEED": 10, "FAILED": 3, "WARN": 1}}


async def test_exact_duration_percentiles_by_operation_type(
    store: Store, domain: Domain, seeded: dict[str, int]
) -> None:
    found = await overview(store, domain)
    # CREATE: 1 s .. 10 s, the 5th and the 10th of ten. STOP: 200 ms, 400 ms, 600 ms and
    # 32 min: the 2nd and the 4th of four.
    assert found.durations == [
        OperationDurations(CREATE, 10, 5000, 10_000),
        OperationDurations(STOP, 4, 400, 32 * MINUTE),
    ]


async def test_waiting_jobs_and_lease_holders_in_every_domain(
    store: Store, domain: Domain, seeded: dict[str, int]
) -> None:
    found = await overview(store, domain)
    assert (found.waiting, found.oldest_waiting) == await store.waiting_jobs()
    assert found.waiting == 1
    assert (found.workers, found.leases) == (1, 1)
    await store.submit_operation(operation(domain, "another"))
    # The waiting job is claimed first (oldest), by a second worker.
    claimed = await claim_next_job(store, "another-worker", 30.0)
    assert claimed is not None
    assert claimed.job_id == seeded["waiting"]
    found = await overview(store, domain)
    assert (found.workers, found.leases, found.waiting) == (2, 2, 1)
    assert found.oldest_waiting is not None


async def test_an_empty_window(store: Store, domain: Domain) -> None:
    found = await overview(store, domain)
    assert found == JobOverview({}, {}, [], 0, None, 0, 0)


@pytest.mark.postgres
@pytest.mark.parametrize("dialect", ["postgres"], indirect=True)
async def test_the_percentiles_are_postgresql_percentile_disc(
    store: Store, domain: Domain, database: str, seeded: dict[str, int]
) -> None:
    rows = await query_rows(
        database,
        "SELECT operation_type, count(*), "
        "percentile_disc(0.5) WITHIN GROUP (ORDER BY end_date - start_date), "
        "percentile_disc(0.95) WITHIN GROUP (ORDER BY end_date - start_date) "
        f"FROM jobs WHERE domain_id = {domain.domain_id} "
        f"AND end_date >= {SINCE} AND end_date < {UNTIL} GROUP BY 1 ORDER BY 1",
    )
    found = await overview(store, domain)
    assert [OperationDurations(*row) for row in rows] == found.durations
