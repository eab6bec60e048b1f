"""The engine's side: claiming, leases and fencing, messages, and ending a job."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from activitylog import errors
from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.store.base import Store
from activitylog.store.records import ClaimedJob, Domain, JobView
from tests.conftest import claim_next_job
from tests.contract.conftest import WORKER, Create, OpenStore, Submit

pytestmark = pytest.mark.anyio

TINY_LEASE = 0.05


async def view(store: Store, domain: Domain, job_id: int) -> JobView:
    job = await store.get_job(domain.domain_id, job_id)
    assert job is not None
    return job


async def claim(store: Store, lease_seconds: float = 30.0) -> ClaimedJob:
    claimed = await claim_next_job(store, WORKER, lease_seconds)
    assert claimed is not None
    return claimed


async def test_nothing_to_claim(store: Store) -> None:
    assert await claim_next_job(store, WORKER, 30.0) is None


async def test_a_claim_starts_the_job(store: Store, domain: Domain, submit: Submit) -> None:
    submitted = await submit("MyCache", parameters={"size": "1", "tier": "gold"})
    claimed = await claim(store)
    assert claimed.job_id == submitted.job_id
    assert claimed.attempt == 1
    assert claimed.lease_token
    assert claimed.service_id == submitted.service_id
    assert (claimed.service_name, claimed.service_type, claimed.identity_domain) == (
        "MyCache",
        "caching",
        domain.name,
    )
    assert claimed.operation_type == OperationType.CREATE_SERVICE
    assert claimed.parameters == {"size": "1", "tier": "gold"}
    job = await view(store, domain, submitted.job_id)
    assert job.status == JobStatus.RUNNING
    assert job.version == 2
    assert [m.text for m in job.messages] == ["Activity Submitted", "Activity Started"]
    assert job.end_date is None
    assert await claim_next_job(store, WORKER, 30.0) is None


async def test_jobs_are_claimed_oldest_first(store: Store, submit: Submit) -> None:
    submitted = [await submit(f"cache{i}") for i in range(6)]
    claimed = [await claim(store) for _ in submitted]
    assert [c.job_id for c in claimed] == [s.job_id for s in submitted]
    assert len({c.lease_token for c in claimed}) == len(claimed)


@pytest.mark.parametrize(("batch", "claimers"), [(1, 8), (4, 6)])
async def test_concurrent_claimers_take_each_job_once(
    store: Store, submit: Submit, open_another_store: OpenStore, batch: int, claimers: int
) -> None:
    submitted = {(await submit(f"cache{i}")).job_id for i in range(60)}
    stores = [store, await open_another_store()]
    claimed: list[ClaimedJob] = []

    async def claimer(on: Store) -> None:
        while jobs := await on.claim_jobs(WORKER, 30.0, batch):
            claimed.extend(jobs)

    await asyncio.gather(*(claimer(stores[i % 2]) for i in range(claimers)))
    assert sorted(job.job_id for job in claimed) == sorted(submitted)
    assert len({job.lease_token for job in claimed}) == len(claimed)


async def test_messages_are_kept_in_order(store: Store, domain: Domain, submit: Submit) -> None:
    submitted = await submit()
    claimed = await claim(store)
    lines = [f"Step {i}: done, [ok]." for i in range(1, 8)]
    for line in lines:
        await store.append_message(claimed, line)
    job = await view(store, domain, submitted.job_id)
    assert [m.text for m in job.messages] == ["Activity Submitted", "Activity Started", *lines]
    dates = [m.activity_date for m in job.messages]
    assert dates == sorted(dates)
    assert job.version == 2 + len(lines)


async def test_concurrent_appends_all_land(store: Store, domain: Domain, submit: Submit) -> None:
    submitted = await submit()
    claimed = await claim(store)
    lines = [f"line {i}" for i in range(20)]
    await asyncio.gather(*(store.append_message(claimed, line) for line in lines))
    job = await view(store, domain, submitted.job_id)
    assert sorted(m.text for m in job.messages[2:]) == sorted(lines)


async def test_finishing_writes_the_closing_messages_then_activity_ended(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit()
    claimed = await claim(store)
    await store.append_message(claimed, "Working.")
    await store.finish_job(claimed, JobStatus.WARN, ["Warning: slow disk.", "Done anyway."])
    job = await view(store, domain, submitted.job_id)
    assert job.status == JobStatus.WARN
    assert [m.text for m in job.messages] == [
        "Activity Submitted",
        "Activity Started",
        "Working.",
        "Warning: slow disk.",
        "Done anyway.",
        "Activity Ended",
    ]
    assert job.end_date is not None
    assert job.end_date >= job.start_date
    assert job.messages[-1].activity_date == job.end_date
    assert job.version == 4


@pytest.mark.parametrize("status", [JobStatus.SUCCEED, JobStatus.FAILED, JobStatus.WARN])
async def test_each_terminal_status_is_recorded(
    store: Store, domain: Domain, submit: Submit, status: JobStatus
) -> None:
    submitted = await submit()
    assert await store.finish_job(await claim(store), status, []) == status
    job = await view(store, domain, submitted.job_id)
    assert job.status == status
    assert [m.text for m in job.messages][-1] == "Activity Ended"


async def test_a_stale_token_is_fenced_off(store: Store, domain: Domain, submit: Submit) -> None:
    submitted = await submit()
    claimed = await claim(store)
    stale = dataclasses.replace(claimed, lease_token="0123456789abcdef")
    with pytest.raises(errors.LeaseLost):
        await store.append_message(stale, "not mine")
    with pytest.raises(errors.LeaseLost):
        await store.renew_lease(stale, 30.0)
    with pytest.raises(errors.LeaseLost):
        await store.finish_job(stale, JobStatus.SUCCEED, ["not mine"])
    job = await view(store, domain, submitted.job_id)
    assert job.status == JobStatus.RUNNING
    assert [m.text for m in job.messages] == ["Activity Submitted", "Activity Started"]
    assert job.version == 2
    await store.finish_job(claimed, JobStatus.SUCCEED, [])


async def test_an_expired_lease_is_still_its_holders_until_a_rescue_takes_the_job(
    store: Store, domain: Domain, submit: Submit
) -> None:
    """A worker whose renewals the database refused (down, or its disk full) for longer than
    the lease still records its job's end once the database is back, unless rescued first."""
    submitted = await submit()
    claimed = await claim(store, TINY_LEASE)
    await asyncio.sleep(TINY_LEASE * 3)
    await store.append_message(claimed, "Completed while the database was away.")
    await store.set_progress(claimed, 100)
    assert await store.renew_lease(claimed, 30.0) is None
    assert await store.finish_job(claimed, JobStatus.SUCCEED, []) == JobStatus.SUCCEED
    job = await view(store, domain, submitted.job_id)
    assert job.status == JobStatus.SUCCEED
    assert [m.text for m in job.messages] == [
        "Activity Submitted",
        "Activity Started",
        "Completed while the database was away.",
        "Activity Ended",
    ]


async def test_renewing_keeps_the_lease(store: Store, domain: Domain, submit: Submit) -> None:
    submitted = await submit()
    claimed = await claim(store, 0.5)
    await store.renew_lease(claimed, 30.0)
    await asyncio.sleep(0.6)
    await store.append_message(claimed, "still mine")
    await store.finish_job(claimed, JobStatus.SUCCEED, [])
    job = await view(store, domain, submitted.job_id)
    assert job.status == JobStatus.SUCCEED
    assert job.version == 4  # a renewal is not a change anyone reading the job can see


async def test_an_ended_job_takes_no_more_writes(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit()
    claimed = await claim(store)
    await store.finish_job(claimed, JobStatus.SUCCEED, [])
    with pytest.raises(errors.LeaseLost):
        await store.append_message(claimed, "after the end")
    with pytest.raises(errors.LeaseLost):
        await store.renew_lease(claimed, 30.0)
    with pytest.raises(errors.LeaseLost):
        await store.finish_job(claimed, JobStatus.FAILED, [])
    job = await view(store, domain, submitted.job_id)
    assert job.status == JobStatus.SUCCEED
    assert [m.text for m in job.messages][-1] == "Activity Ended"
    assert await claim_next_job(store, WORKER, 30.0) is None


async def test_a_lease_lost_on_one_job_leaves_the_others_alone(
    store: Store, domain: Domain, submit: Submit
) -> None:
    await submit("first")
    second = await submit("second")
    first_claim = await claim(store, TINY_LEASE)
    second_claim = await claim(store)
    await asyncio.sleep(TINY_LEASE * 3)
    await store.rescue_expired_jobs()
    with pytest.raises(errors.LeaseLost):
        await store.finish_job(first_claim, JobStatus.SUCCEED, [])
    await store.finish_job(second_claim, JobStatus.SUCCEED, [])
    assert (await view(store, domain, second.job_id)).status == JobStatus.SUCCEED


async def test_an_ended_operation_lets_the_next_one_be_claimed(
    store: Store, domain: Domain, submit: Submit, create_running: Create
) -> None:
    created = await create_running()
    stopping = await submit("MyCache", OperationType.STOP_SERVICE)
    claimed = await claim(store)
    assert claimed.job_id == stopping.job_id
    assert claimed.service_id == created.service_id
    assert claimed.operation_type == OperationType.STOP_SERVICE
    assert claimed.parameters == {}


async def test_a_message_with_nul_reads_back_the_same_on_both_stores(
    store: Store, domain: Domain, submit: Submit
) -> None:
    # PostgreSQL text cannot hold NUL: without care, a handler printing one would lose the job.
    submitted = await submit()
    claimed = await claim(store)
    await store.append_message(claimed, "binary\x00output")
    await store.finish_job(claimed, JobStatus.FAILED, ["exit\x00code 1"])
    job = await view(store, domain, submitted.job_id)
    assert [m.text for m in job.messages][2:] == [
        "binary\ufffdoutput",
        "exit\ufffdcode 1",
        "Activity Ended",
    ]


async def test_a_batch_claim_takes_up_to_its_limit_oldest_first(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = [(await submit(f"cache{i}")).job_id for i in range(5)]
    batch = await store.claim_jobs(WORKER, 30.0, 3)
    assert [job.job_id for job in batch] == submitted[:3]
    assert len({job.lease_token for job in batch}) == 3
    rest = await store.claim_jobs(WORKER, 30.0, 10)
    assert [job.job_id for job in rest] == submitted[3:]
    assert await store.claim_jobs(WORKER, 30.0, 10) == []
    for job in [*batch, *rest]:
        assert job.attempt == 1
        seen = await view(store, domain, job.job_id)
        assert seen.status == JobStatus.RUNNING
        assert [m.text for m in seen.messages] == ["Activity Submitted", "Activity Started"]


async def test_a_claim_takes_only_the_service_types_asked_for(store: Store, submit: Submit) -> None:
    # A worker without a handler for a type must leave its jobs to workers that have one.
    cache = await submit("MyCache")
    database = await submit("MyDatabase", service_type="dbaas")
    assert await store.claim_jobs(WORKER, 30.0, 10, ["jaas"]) == []
    assert [job.job_id for job in await store.claim_jobs(WORKER, 30.0, 10, ["dbaas"])] == [
        database.job_id
    ]
    assert [job.job_id for job in await store.claim_jobs(WORKER, 30.0, 10, None)] == [cache.job_id]


async def test_ends_arriving_together_each_end_as_if_alone(
    store: Store, domain: Domain, submit: Submit
) -> None:
    # PostgreSQL writes the ends ready at one moment in one statement: a cancelled job, a
    # stale token and a successful scale among them must each still end as they would alone.
    names = [f"cache{n}" for n in range(6)]
    for name in names:
        await submit(name)
    claimed = [await claim(store) for _ in names]
    await asyncio.gather(*(store.finish_job(job, JobStatus.SUCCEED, []) for job in claimed))
    scale = await submit("cache5", OperationType.SCALE_SERVICE, parameters={"size": "9"})
    held = {job.service_name: job for job in [await claim(store)]}
    for name in names[:5]:
        await submit(name, OperationType.STOP_SERVICE)
        held[name] = await claim(store)
    await store.cancel_job(domain.domain_id, held["cache1"].job_id, "joe")
    stale = dataclasses.replace(held["cache2"], lease_token="0123456789abcdef")

    outcomes = await asyncio.gather(
        store.finish_job(held["cache0"], JobStatus.SUCCEED, ["Stopped."]),
        store.finish_job(held["cache1"], JobStatus.SUCCEED, ["Stopped anyway."]),
        store.finish_job(stale, JobStatus.SUCCEED, []),
        store.finish_job(held["cache3"], JobStatus.FAILED, ["Could not stop."]),
        store.finish_job(held["cache4"], JobStatus.WARN, []),
        store.finish_job(held["cache5"], JobStatus.SUCCEED, []),
        return_exceptions=True,
    )

    # Each end answers with the status it recorded: the cancelled one's is FAILED.
    assert [
        type(outcome) if isinstance(outcome, BaseException) else outcome for outcome in outcomes
    ] == [
        JobStatus.SUCCEED,
        JobStatus.FAILED,
        errors.LeaseLost,
        JobStatus.FAILED,
        JobStatus.WARN,
        JobStatus.SUCCEED,
    ]
    ended = {name: await view(store, domain, job.job_id) for name, job in held.items()}
    assert {name: job.status for name, job in ended.items()} == {
        "cache0": JobStatus.SUCCEED,
        "cache1": JobStatus.FAILED,
        "cache2": JobStatus.RUNNING,
        "cache3": JobStatus.FAILED,
        "cache4": JobStatus.WARN,
        "cache5": JobStatus.SUCCEED,
    }
    assert [m.text for m in ended["cache0"].messages][-2:] == ["Stopped.", "Activity Ended"]
    assert [m.text for m in ended["cache1"].messages][-3:] == [
        "Stopped anyway.",
        "Cancelled by joe.",
        "Activity Ended",
    ]
    states = {name: (await store.get_instance(domain.domain_id, "caching", name)) for name in names}
    assert {name: i.state if i else None for name, i in states.items()} == {
        "cache0": "stopped",
        "cache1": "running",
        "cache2": "running",  # its stop still in flight
        "cache3": "running",
        "cache4": "stopped",
        "cache5": "running",
    }
    scaled = states["cache5"]
    assert scaled is not None
    assert scaled.parameters["size"] == "9"
    assert ended["cache5"].job_id == scale.job_id
