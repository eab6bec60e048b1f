"""The change feed: every write that changes a job tells its identity domain's watchers, and
only theirs, in this process and (PostgreSQL) in the others."""

from __future__ import annotations

import asyncio

import pytest

from activitylog.domain.jobs import JobStatus
from activitylog.store.base import Store
from activitylog.store.postgres import PostgresStore
from activitylog.store.records import Domain
from tests.conftest import claim_next_job
from tests.contract.conftest import WORKER, Submit, operation

pytestmark = pytest.mark.anyio


def drained(queue: asyncio.Queue[int | None]) -> list[int | None]:
    found = []
    while not queue.empty():
        found.append(queue.get_nowait())
    return found


async def test_every_change_reaches_its_domains_watchers_only(
    store: Store, domain: Domain, submit: Submit
) -> None:
    other = await store.create_domain("OtherIdentityDomain")
    with (
        store.changes.watch_domain(domain.domain_id) as ours,
        store.changes.watch_domain(other.domain_id) as theirs,
    ):
        first = await submit("First")
        claimed = await claim_next_job(store, WORKER, 30.0)
        assert claimed is not None
        assert claimed.domain_id == domain.domain_id
        await store.append_message(claimed, "step")
        await store.set_progress(claimed, 50)
        await store.finish_job(claimed, JobStatus.SUCCEED, [])
        second = await submit("Second")
        await store.cancel_job(domain.domain_id, second.job_id, "joe")

        await asyncio.sleep(0.2)  # PostgreSQL: this process's own announcements come back too
        told = drained(ours)
        assert told[:5] == [first.job_id] * 5  # at once, in this process
        assert set(told) == {first.job_id, second.job_id}
        assert drained(theirs) == []


@pytest.mark.postgres
async def test_a_change_in_another_process_reaches_only_its_domains_watchers(
    postgres_url: str,
) -> None:
    writer, watcher = PostgresStore(postgres_url), PostgresStore(postgres_url)
    await writer.open()
    await watcher.open()
    try:
        domain = await writer.create_domain("ExampleIdentityDomain")
        other = await writer.create_domain("OtherIdentityDomain")
        async with asyncio.timeout(10):
            while not watcher.listening:
                await asyncio.sleep(0.01)
        with (
            watcher.changes.watch_domain(domain.domain_id) as ours,
            watcher.changes.watch_domain(other.domain_id) as theirs,
        ):
            announced = await writer.submit_operation(operation(domain, "Announced"))
            async with asyncio.timeout(10):
                assert await ours.get() == announced.job_id
            # A cancellation notifies inside its own transaction, not through the announcer.
            await writer.cancel_job(domain.domain_id, announced.job_id, "joe")
            async with asyncio.timeout(10):
                assert await ours.get() == announced.job_id
            await asyncio.sleep(0.2)  # what else would come, has come
            assert theirs.empty()
    finally:
        await writer.close()
        await watcher.close()
