"""Rescue, retry and release: a job whose worker was lost, or that a worker hands back, and the
fencing that keeps the lost worker from ever writing to it again."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from activitylog import errors
from activitylog.domain.jobs import (
    ENDED_MESSAGE,
    RELEASED_MESSAGE,
    STARTED_MESSAGE,
    SUBMITTED_MESSAGE,
    JobStatus,
)
from activitylog.store.base import Store
from activitylog.store.postgres import PostgresStore
from activitylog.store.records import ClaimedJob, Domain, JobView, RescuedJob, SubmittedJob
from tests.conftest import claim_next_job
from tests.contract.conftest import (
    DOMAIN,
    WORKER,
    Create,
    OpenStore,
    operation,
    settle_wakeups,
)

pytestmark = pytest.mark.anyio

TINY_LEASE = 0.05


async def view(store: Store, domain: Domain, job_id: int) -> JobView:
    job = await store.get_job(domain.domain_id, job_id)
    assert job is not None
    return job


def texts(job: JobView) -> list[str]:
    return [message.text for message in job.messages]


async def submit(
    store: Store, domain: Domain, name: str = "MyCache", *, attempts: int = 1, backoff_ms: int = 0
) -> SubmittedJob:
    request = dataclasses.replace(
        operation(domain, name), max_attempts=attempts, backoff_ms=backoff_ms
    )
    return await store.submit_operation(request)


async def claim(store: Store, lease_seconds: float = 30.0) -> ClaimedJob:
    claimed = await claim_next_job(store, WORKER, lease_seconds)
    assert claimed is not None
    return claimed


async def lose(store: Store) -> ClaimedJob:
    """Claim the next job as a worker that then vanishes: its lease runs out."""
    claimed = await claim(store, TINY_LEASE)
    await asyncio.sleep(TINY_LEASE * 3)
    return claimed


# -- rescue ------------------------------------------------------------------------------------


async def test_a_lost_job_with_attempts_left_goes_back_to_new(store: Store, domain: Domain) -> None:
    submitted = await submit(store, domain, attempts=3)
    await lose(store)

    assert await store.rescue_expired_jobs() == [
        RescuedJob(submitted.job_id, JobStatus.NEW, domain.domain_id)
    ]
    job = await view(store, domain, submitted.job_id)
    assert job.status == JobStatus.NEW
    assert job.end_date is None
    assert texts(job) == [
        SUBMITTED_MESSAGE,
        STARTED_MESSAGE,
        "Worker lost (lease expired); retrying: attempt 2 of 3.",
    ]
    again = await claim(store)
    assert (again.job_id, again.attempt) == (submitted.job_id, 2)
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.state == "creating"  # still in flight


async def test_a_lost_job_with_no_attempts_left_ends_failed(store: Store, domain: Domain) -> None:
    submitted = await submit(store, domain, attempts=1)
    await lose(store)

    assert await store.rescue_expired_jobs() == [
        RescuedJob(submitted.job_id, JobStatus.FAILED, domain.domain_id)
    ]
    job = await view(store, domain, submitted.job_id)
    assert job.status == JobStatus.FAILED
    assert job.end_date is not None
    assert texts(job) == [
        SUBMITTED_MESSAGE,
        STARTED_MESSAGE,
        "Worker lost (lease expired) on attempt 1 of 1; giving up.",
        ENDED_MESSAGE,
    ]
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.state == "failed"  # a failed create, as state_on_end says
    assert await claim_next_job(store, WORKER, 30.0) is None


async def test_the_last_attempt_lost_ends_the_job(store: Store, domain: Domain) -> None:
    submitted = await submit(store, domain, attempts=2)
    await lose(store)
    await store.rescue_expired_jobs()
    await lose(store)
    await store.rescue_expired_jobs()

    job = await view(store, domain, submitted.job_id)
    assert job.status == JobStatus.FAILED
    assert texts(job) == [
        SUBMITTED_MESSAGE,
        STARTED_MESSAGE,
        "Worker lost (lease expired); retrying: attempt 2 of 2.",
        STARTED_MESSAGE,
        "Worker lost (lease expired) on attempt 2 of 2; giving up.",
        ENDED_MESSAGE,
    ]


async def test_a_retry_waits_out_its_backoff(store: Store, domain: Domain) -> None:
    await submit(store, domain, attempts=2, backoff_ms=60_000)
    await lose(store)
    await store.rescue_expired_jobs()

    assert await claim_next_job(store, WORKER, 30.0) is None  # run_after is a minute away


async def test_live_leases_and_other_jobs_are_left_alone(
    store: Store, domain: Domain, create_running: Create
) -> None:
    await create_running("Done")
    waiting = await submit(store, domain, "Waiting")
    running = await submit(store, domain, "Running")
    held = await claim(store)
    assert held.job_id == waiting.job_id

    assert await store.rescue_expired_jobs() == []
    assert (await view(store, domain, waiting.job_id)).status == JobStatus.RUNNING
    assert (await view(store, domain, running.job_id)).status == JobStatus.NEW
    await store.append_message(held, "still mine")


async def test_rescue_announces_the_change(store: Store, domain: Domain) -> None:
    submitted = await submit(store, domain, attempts=2)
    await lose(store)
    with store.changes.subscribe(submitted.job_id) as changes:
        await store.rescue_expired_jobs()
        assert await changes.wait(5.0)


async def test_two_rescuers_at_once_rescue_each_job_once(
    store: Store, domain: Domain, open_another_store: OpenStore
) -> None:
    for index in range(10):
        await submit(store, domain, f"cache{index}", attempts=2)
    for _ in range(10):
        await claim(store, TINY_LEASE)
    await asyncio.sleep(TINY_LEASE * 3)
    other = await open_another_store()

    results = await asyncio.gather(*(s.rescue_expired_jobs() for s in (store, other, store)))

    # On PostgreSQL only the lock holder rescues; on SQLite each rescue is one write turn.
    rescued = sorted(job.job_id for result in results for job in result)
    assert len(rescued) == 10
    assert len(set(rescued)) == 10
    for job_id in rescued:
        assert texts(await view(store, domain, job_id)).count(STARTED_MESSAGE) == 1


# -- fencing: a rescued job never has two live writers ------------------------------------------


async def test_the_lost_worker_is_refused_after_rescue_and_reclaim(
    store: Store, domain: Domain
) -> None:
    submitted = await submit(store, domain, attempts=2)
    lost = await lose(store)
    await store.rescue_expired_jobs()
    current = await claim(store)
    assert current.lease_token != lost.lease_token

    stale_writes: list[Callable[[], Awaitable[object]]] = [
        lambda: store.append_message(lost, "the lost worker speaks"),
        lambda: store.renew_lease(lost, 30.0),
        lambda: store.set_progress(lost, 50),
        lambda: store.cancel_request(lost),
        lambda: store.release_job(lost, RELEASED_MESSAGE),
        lambda: store.finish_job(lost, JobStatus.SUCCEED, ["done twice"]),
    ]
    for stale_write in stale_writes:
        with pytest.raises(errors.LeaseLost):
            await stale_write()
    await store.append_message(current, "the current attempt speaks")
    await store.finish_job(current, JobStatus.SUCCEED, [])

    job = await view(store, domain, submitted.job_id)
    assert job.status == JobStatus.SUCCEED
    assert texts(job) == [
        SUBMITTED_MESSAGE,
        STARTED_MESSAGE,
        "Worker lost (lease expired); retrying: attempt 2 of 2.",
        STARTED_MESSAGE,
        "the current attempt speaks",
        ENDED_MESSAGE,
    ]


async def test_the_lost_worker_is_refused_even_before_the_reclaim(
    store: Store, domain: Domain
) -> None:
    submitted = await submit(store, domain, attempts=2)
    lost = await lose(store)
    await store.rescue_expired_jobs()

    with pytest.raises(errors.LeaseLost):
        await store.finish_job(lost, JobStatus.SUCCEED, [])
    assert (await view(store, domain, submitted.job_id)).status == JobStatus.NEW


async def test_the_rescue_spares_the_live_leases_it_is_told_of(
    store: Store, domain: Domain
) -> None:
    """The rescuer's own worker is alive: its expired leases are not lost (their renewals were
    refused), and its ends are on their way."""
    spared = await submit(store, domain, "spared")
    lost = await submit(store, domain, "lost")
    spared_claim, _ = await claim(store, TINY_LEASE), await claim(store, TINY_LEASE)
    await asyncio.sleep(TINY_LEASE * 3)

    rescued = await store.rescue_expired_jobs([spared_claim.lease_token])

    assert rescued == [RescuedJob(lost.job_id, JobStatus.FAILED, domain.domain_id)]
    assert (await view(store, domain, spared.job_id)).status == JobStatus.RUNNING
    assert await store.finish_job(spared_claim, JobStatus.SUCCEED, []) == JobStatus.SUCCEED


async def test_a_finish_racing_a_rescue_lands_once(store: Store, domain: Domain) -> None:
    """Whichever commits first wins; the other sees the job gone. Never both."""
    for index in range(20):
        await submit(store, domain, f"cache{index}", attempts=2)
    claims = [await claim(store, 0.2) for _ in range(20)]
    await asyncio.sleep(0.2)  # the leases expire about now: each race may go either way

    async def finish(job: ClaimedJob) -> bool:
        try:
            await store.finish_job(job, JobStatus.SUCCEED, [])
        except errors.LeaseLost:
            return False
        return True

    rescuing = asyncio.ensure_future(store.rescue_expired_jobs())
    finished = await asyncio.gather(*(finish(job) for job in claims))
    first_rescue = await rescuing
    # A lease that expired just after the first rescue looked is rescued by the next.
    rescued = {job.job_id for job in [*first_rescue, *await store.rescue_expired_jobs()]}

    for job, ended in zip(claims, finished, strict=True):
        state = await view(store, domain, job.job_id)
        assert ended != (job.job_id in rescued)
        assert state.status == (JobStatus.SUCCEED if ended else JobStatus.NEW)
        assert texts(state).count(ENDED_MESSAGE) == (1 if ended else 0)


# -- release ------------------------------------------------------------------------------------


async def test_a_released_job_is_new_at_once_and_keeps_its_attempts(
    store: Store, domain: Domain
) -> None:
    submitted = await submit(store, domain, attempts=1)
    held = await claim(store)

    await store.release_job(held, RELEASED_MESSAGE)

    job = await view(store, domain, submitted.job_id)
    assert job.status == JobStatus.NEW
    assert texts(job) == [SUBMITTED_MESSAGE, STARTED_MESSAGE, RELEASED_MESSAGE]
    again = await claim(store, TINY_LEASE)
    assert again.attempt == 2
    with pytest.raises(errors.LeaseLost):
        await store.append_message(held, "the releasing worker again")
    # The handed-back attempt did not count: losing this one is the last of 2, not 2 of 1.
    await asyncio.sleep(TINY_LEASE * 3)
    await store.rescue_expired_jobs()
    assert texts(await view(store, domain, submitted.job_id))[-2] == (
        "Worker lost (lease expired) on attempt 2 of 2; giving up."
    )


async def test_releasing_wakes_waiting_workers(store: Store, domain: Domain) -> None:
    await submit(store, domain)
    held = await claim(store)
    await settle_wakeups(store)

    await store.release_job(held, RELEASED_MESSAGE)
    async with asyncio.timeout(5):
        await store.wait_for_new_jobs(30.0)


# -- PostgreSQL: one rescuer at a time ----------------------------------------------------------


@pytest.mark.postgres
async def test_one_postgres_process_rescues_and_another_takes_over_when_it_goes(
    postgres_url: str,
) -> None:
    first, second = PostgresStore(postgres_url), PostgresStore(postgres_url)
    await first.open()
    await second.open()
    try:
        domain = await first.create_domain(DOMAIN)
        one = await submit(first, domain, "one")
        two = await submit(first, domain, "two")
        await lose(first)
        assert await first.rescue_expired_jobs() == [
            RescuedJob(one.job_id, JobStatus.FAILED, domain.domain_id)
        ]
        assert first.is_rescuer

        await lose(first)
        assert await second.rescue_expired_jobs() == []  # the first holds the lock
        assert not second.is_rescuer

        await first.close()  # its session ends, and the lock with it
        assert await second.rescue_expired_jobs() == [
            RescuedJob(two.job_id, JobStatus.FAILED, domain.domain_id)
        ]
        assert second.is_rescuer
    finally:
        await first.close()
        await second.close()
