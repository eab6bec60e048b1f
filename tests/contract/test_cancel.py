"""Cancellation: one compare-and-set, racing the job's own end."""

from __future__ import annotations

import asyncio

import pytest

from activitylog import errors
from activitylog.domain.jobs import ENDED_MESSAGE, STARTED_MESSAGE, SUBMITTED_MESSAGE, JobStatus
from activitylog.store.base import Store
from activitylog.store.records import ClaimedJob, Domain, JobView
from tests.conftest import claim_next_job
from tests.contract.conftest import USER, WORKER, Submit

pytestmark = pytest.mark.anyio


def texts(job: JobView) -> list[str]:
    return [message.text for message in job.messages]


async def claim(store: Store) -> ClaimedJob:
    claimed = await claim_next_job(store, WORKER, 30.0)
    assert claimed is not None
    return claimed


async def test_a_new_job_ends_failed_at_once(store: Store, domain: Domain, submit: Submit) -> None:
    submitted = await submit()

    job = await store.cancel_job(domain.domain_id, submitted.job_id, USER)

    assert job.status == JobStatus.FAILED
    assert job.end_date is not None
    assert texts(job) == [SUBMITTED_MESSAGE, f"Cancelled by {USER}.", ENDED_MESSAGE]
    assert job == await store.get_job(domain.domain_id, submitted.job_id)
    assert await claim_next_job(store, WORKER, 30.0) is None
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.state == "failed"


async def test_a_running_job_records_the_request_for_its_worker(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit()
    held = await claim(store)
    assert await store.renew_lease(held, 30.0) is None
    assert await store.cancel_request(held) is None

    job = await store.cancel_job(domain.domain_id, submitted.job_id, USER)

    assert job.status == JobStatus.RUNNING
    assert texts(job) == [SUBMITTED_MESSAGE, STARTED_MESSAGE, f"Cancellation requested by {USER}."]
    assert await store.cancel_request(held) == USER
    assert await store.renew_lease(held, 30.0) == USER
    # Asking again changes nothing.
    assert await store.cancel_job(domain.domain_id, submitted.job_id, "ann") == job


async def test_a_cancelled_job_ends_failed_whatever_its_worker_reports(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit()
    held = await claim(store)
    await store.cancel_job(domain.domain_id, submitted.job_id, USER)

    recorded = await store.finish_job(held, JobStatus.SUCCEED, ["Created anyway."])

    assert recorded == JobStatus.FAILED
    job = await store.get_job(domain.domain_id, submitted.job_id)
    assert job is not None
    assert job.status == JobStatus.FAILED
    assert texts(job)[2:] == [
        f"Cancellation requested by {USER}.",
        "Created anyway.",
        f"Cancelled by {USER}.",
        ENDED_MESSAGE,
    ]
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.state == "failed"


async def test_an_ended_job_cannot_be_cancelled(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit()
    await store.finish_job(await claim(store), JobStatus.SUCCEED, [])

    with pytest.raises(errors.JobAlreadyEnded, match="already ended with status SUCCEED"):
        await store.cancel_job(domain.domain_id, submitted.job_id, USER)
    job = await store.get_job(domain.domain_id, submitted.job_id)
    assert job is not None
    assert job.status == JobStatus.SUCCEED


async def test_an_unknown_job_or_another_domains_is_not_found(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit()
    other = await store.create_domain("OtherDomain")
    with pytest.raises(errors.JobNotFound):
        await store.cancel_job(domain.domain_id, 999_999, USER)
    with pytest.raises(errors.JobNotFound):
        await store.cancel_job(other.domain_id, submitted.job_id, USER)


async def test_a_cancelled_job_that_its_worker_releases_ends_instead(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit()
    held = await claim(store)
    await store.cancel_job(domain.domain_id, submitted.job_id, USER)

    await store.release_job(held, "Worker shutting down; job released for retry.")

    job = await store.get_job(domain.domain_id, submitted.job_id)
    assert job is not None
    assert job.status == JobStatus.FAILED
    assert texts(job)[-2:] == [f"Cancelled by {USER}.", ENDED_MESSAGE]


async def test_a_cancelled_job_whose_worker_is_lost_ends_failed(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit()
    await claim_next_job(store, WORKER, 0.05)
    await store.cancel_job(domain.domain_id, submitted.job_id, USER)
    await asyncio.sleep(0.15)

    await store.rescue_expired_jobs()

    job = await store.get_job(domain.domain_id, submitted.job_id)
    assert job is not None
    assert job.status == JobStatus.FAILED
    assert texts(job)[-2:] == [f"Cancelled by {USER}.", ENDED_MESSAGE]


async def test_cancel_and_finish_racing_agree_on_one_outcome(
    store: Store, domain: Domain, submit: Submit
) -> None:
    """Whichever commits first wins: SUCCEED and a refused cancel, or FAILED, cancelled."""
    jobs = []
    for index in range(20):
        submitted = await submit(f"cache{index}")
        jobs.append((submitted.job_id, await claim(store)))

    async def cancel(job_id: int) -> bool:
        try:
            await store.cancel_job(domain.domain_id, job_id, USER)
        except errors.JobAlreadyEnded:
            return False
        return True

    outcomes = await asyncio.gather(
        *(cancel(job_id) for job_id, _ in jobs),
        *(store.finish_job(held, JobStatus.SUCCEED, ["Done."]) for _, held in jobs),
    )

    for (job_id, _), cancelled in zip(jobs, outcomes[: len(jobs)], strict=True):
        job = await store.get_job(domain.domain_id, job_id)
        assert job is not None
        if cancelled:
            assert job.status == JobStatus.FAILED
            assert texts(job)[-2:] == [f"Cancelled by {USER}.", ENDED_MESSAGE]
        else:
            assert job.status == JobStatus.SUCCEED
            assert texts(job)[-2:] == ["Done.", ENDED_MESSAGE]
        assert texts(job).count(ENDED_MESSAGE) == 1
