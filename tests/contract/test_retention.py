"""Retention: ended jobs older than their policy go, in batches, with their messages and keys;
jobs that have not ended stay; the kept counts stay exact; one process prunes at a time."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from typing import Any

import asyncpg
import pytest

from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.domain.retention import RetentionPolicy, older_than
from activitylog.domain.search import JobQuery
from activitylog.store.base import Store
from activitylog.store.records import Domain, IdempotencyKey, PruneCount
from tests.conftest import claim_next_job
from tests.contract.conftest import WORKER, RunNext, Submit, operation

pytestmark = pytest.mark.anyio

EVERYTHING_ENDED = older_than(1)  # ended a millisecond ago or more


async def query_rows(database: str, sql: str) -> list[tuple[Any, ...]]:
    if database.startswith("postgresql://"):
        connection = await asyncpg.connect(database)
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()
    with sqlite3.connect(database) as connection:
        return [tuple(row) for row in connection.execute(sql)]


async def kept_counts_match_rows(database: str) -> None:
    kept = await query_rows(
        database,
        "SELECT domain_id, status, service_type, sum(jobs) FROM job_counts "
        "GROUP BY domain_id, status, service_type HAVING sum(jobs) <> 0 ORDER BY 1, 2, 3",
    )
    counted = await query_rows(
        database,
        "SELECT domain_id, status, service_type, count(*) FROM jobs "
        "GROUP BY domain_id, status, service_type ORDER BY 1, 2, 3",
    )
    assert [(*row[:3], int(row[3])) for row in kept] == [(*row[:3], int(row[3])) for row in counted]


async def prune_all(store: Store, policy: RetentionPolicy, **options: Any) -> list[PruneCount]:
    batches = []
    while True:
        batch = await store.prune_ended_jobs(policy, **options)
        batches.append(batch)
        if not batch.more:
            return batches


@pytest.fixture
async def mixed_jobs(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext
) -> dict[str, int]:
    """Ended jobs in two service types and two domains, one RUNNING, one NEW."""
    ids = {}
    for name, service_type, status in (
        ("a", "caching", JobStatus.SUCCEED),
        ("b", "caching", JobStatus.FAILED),
        ("c", "jaas", JobStatus.SUCCEED),
        ("d", "jaas", JobStatus.WARN),
    ):
        created = await submit(name, service_type=service_type)
        await run_next(created.job_id, status, [f"{name} ended."])
        ids[name] = created.job_id
    keyed = dataclasses.replace(
        operation(domain, "e"), idempotency=IdempotencyKey("key-e", "fingerprint")
    )
    ids["e"] = (await store.submit_operation(keyed)).job_id
    await run_next(ids["e"])
    ids["running"] = (await submit("a", OperationType.STOP_SERVICE)).job_id
    claimed = await claim_next_job(store, WORKER, 30.0)
    assert claimed is not None
    assert claimed.job_id == ids["running"]
    other = await store.create_domain("otherdomain")
    other_job = await store.submit_operation(operation(other, "x"))
    claimed = await claim_next_job(store, WORKER, 30.0)
    assert claimed is not None
    await store.finish_job(claimed, JobStatus.SUCCEED, [])
    ids["other"] = other_job.job_id
    ids["new"] = (await submit("c", OperationType.STOP_SERVICE, service_type="jaas")).job_id
    await asyncio.sleep(0.01)
    return ids


async def test_prune_removes_ended_jobs_in_batches_and_keeps_the_rest(
    store: Store, domain: Domain, database: str, mixed_jobs: dict[str, int]
) -> None:
    batches = await prune_all(store, EVERYTHING_ENDED, limit=2)
    assert sum(batch.jobs for batch in batches) == 6
    assert all(batch.jobs <= 2 for batch in batches)
    for name in ("a", "b", "c", "d", "e"):
        assert await store.get_job(domain.domain_id, mixed_jobs[name]) is None
    for name in ("running", "new"):
        assert await store.get_job(domain.domain_id, mixed_jobs[name]) is not None
    assert await query_rows(database, "SELECT count(*) FROM idempotency_keys") == [(0,)]
    ended = ",".join(str(mixed_jobs[n]) for n in ("a", "b", "c", "d", "e", "other"))
    orphans = f"SELECT count(*) FROM job_messages WHERE job_id IN ({ended})"
    assert await query_rows(database, orphans) == [(0,)]
    page, total = await store.search_jobs(domain.domain_id, JobQuery())
    assert total == 2
    assert {job.job_id for job in page} == {mixed_jobs["running"], mixed_jobs["new"]}
    await kept_counts_match_rows(database)


async def test_counts_stay_exact_by_status_and_service_type(
    store: Store, domain: Domain, database: str, mixed_jobs: dict[str, int]
) -> None:
    await prune_all(store, RetentionPolicy(days=0, service_types={"caching": 1e-9}), limit=1)
    await kept_counts_match_rows(database)
    succeeded = JobQuery(statuses=("SUCCEED",))
    assert (await store.search_jobs(domain.domain_id, succeeded))[1] == 1  # "c", jaas
    jaas = JobQuery(service_type="jaas")
    assert (await store.search_jobs(domain.domain_id, jaas))[1] == 3


async def test_a_domain_setting_wins_over_the_service_type_and_the_default(
    store: Store, domain: Domain, mixed_jobs: dict[str, int]
) -> None:
    policy = RetentionPolicy(days=1e-9, domains={domain.name: 0}, service_types={"caching": 1e-9})
    batches = await prune_all(store, policy)
    assert sum(batch.jobs for batch in batches) == 1  # the other domain's job only
    assert await store.get_job(domain.domain_id, mixed_jobs["a"]) is not None


async def test_dry_run_counts_what_prune_removes(
    store: Store, domain: Domain, mixed_jobs: dict[str, int]
) -> None:
    counted = await store.count_prunable_jobs(EVERYTHING_ENDED, domain=domain.name)
    by_type = {(c.domain, c.service_type): c.jobs for c in counted}
    assert by_type == {(domain.name, "caching"): 3, (domain.name, "jaas"): 2}
    assert all(c.messages >= 3 for c in counted)
    batches = await prune_all(store, EVERYTHING_ENDED, domain=domain.name)
    assert sum(batch.jobs for batch in batches) == 5
    assert await store.count_prunable_jobs(EVERYTHING_ENDED) != []  # the other domain's


async def test_off_prunes_nothing(store: Store, mixed_jobs: dict[str, int]) -> None:
    batch = await store.prune_ended_jobs(RetentionPolicy(days=0))
    assert (batch.jobs, batch.more) == (0, False)


@pytest.mark.postgres
async def test_postgres_one_process_prunes_at_a_time(
    store: Store, database: str, dialect: str, mixed_jobs: dict[str, int]
) -> None:
    if dialect != "postgres":
        pytest.skip("SQLite's writes take turns anyway")
    other = await asyncpg.connect(database)
    try:
        async with other.transaction():
            await other.execute("SELECT pg_advisory_xact_lock(27422302953369189)")
            batch = await store.prune_ended_jobs(EVERYTHING_ENDED)
            assert batch.skipped
            assert batch.jobs == 0
    finally:
        await other.close()
    assert (await store.prune_ended_jobs(EVERYTHING_ENDED)).jobs == 6
