"""Submitting operations: the job exists at once, ids, and every refusal."""

from __future__ import annotations

import asyncio

import pytest

from activitylog import errors
from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.domain.search import MAX_BIGINT, JobQuery
from activitylog.store.base import Store
from activitylog.store.records import Domain
from tests.conftest import claim_next_job
from tests.contract.conftest import (
    USER,
    Create,
    OpenStore,
    RunNext,
    Submit,
    operation,
    settle_wakeups,
)

pytestmark = pytest.mark.anyio


async def test_the_job_exists_at_once_as_new_with_one_message(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit("MyCache", parameters={"size": "1"})
    job = await store.get_job(domain.domain_id, submitted.job_id)
    assert job is not None
    assert job.job_id == submitted.job_id
    assert job.activity_log_id == submitted.activity_log_id
    assert job.service_id == submitted.service_id
    assert (job.service_name, job.service_type, job.identity_domain) == (
        "MyCache",
        "caching",
        domain.name,
    )
    assert job.status == JobStatus.NEW
    assert job.operation_type == OperationType.CREATE_SERVICE
    assert (job.auth_domain, job.auth_user, job.initiated_by) == (domain.name, USER, "USER")
    assert job.end_date is None
    assert job.percent_complete is None
    assert job.version == 1
    assert [m.text for m in job.messages] == ["Activity Submitted"]
    assert job.messages[0].activity_date == job.start_date


async def test_a_job_is_found_by_its_activity_log_id(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit()
    by_log = await store.get_job_by_log_id(domain.domain_id, submitted.activity_log_id)
    assert by_log == await store.get_job(domain.domain_id, submitted.job_id)
    assert await store.get_job_by_log_id(domain.domain_id, submitted.activity_log_id + 99) is None


async def test_a_job_of_another_domain_is_not_found(
    store: Store, domain: Domain, submit: Submit
) -> None:
    submitted = await submit()
    other = await store.create_domain("otherdomain")
    assert await store.get_job(other.domain_id, submitted.job_id) is None
    assert await store.get_job_by_log_id(other.domain_id, submitted.activity_log_id) is None
    assert await store.get_job(domain.domain_id, submitted.job_id + 1) is None
    assert await store.get_job(domain.domain_id, MAX_BIGINT) is None
    assert await store.get_job_by_log_id(domain.domain_id, MAX_BIGINT) is None


async def test_job_service_and_log_ids_have_number_spaces_of_their_own(
    create_running: Create, submit: Submit, run_next: RunNext
) -> None:
    first = await create_running("first")
    stop = await submit("first", OperationType.STOP_SERVICE)
    await run_next(stop.job_id)
    start = await submit("first", OperationType.START_SERVICE)
    await run_next(start.job_id)
    second = await submit("second")
    # Three jobs on one instance advanced the job and log ids, not the service id.
    assert (stop.service_id, start.service_id) == (first.service_id, first.service_id)
    assert second.service_id == first.service_id + 1
    assert [stop.job_id, start.job_id, second.job_id] == [
        first.job_id + 1,
        first.job_id + 2,
        first.job_id + 3,
    ]
    logs = [first.activity_log_id, stop.activity_log_id, start.activity_log_id]
    assert [*logs, second.activity_log_id] == list(range(logs[0], logs[0] + 4))


async def test_creating_a_live_instance_again_is_refused(
    store: Store, domain: Domain, submit: Submit, create_running: Create
) -> None:
    await create_running("running")
    await submit("pending")
    for name in ("pending", "running"):
        with pytest.raises(errors.InstanceExists) as refused:
            await submit(name)
        assert refused.value.message == (
            f"Service [{name}] already exists in identity domain [{domain.name}]."
        )
    total = (await store.search_jobs(domain.domain_id, JobQuery()))[1]
    assert total == 2


async def test_the_same_name_may_live_in_another_service_type(
    submit: Submit, create_running: Create
) -> None:
    cache = await create_running("shared")
    other = await submit("shared", service_type="jaas")
    assert other.service_id != cache.service_id


async def test_an_operation_on_an_unknown_instance_is_not_found(
    store: Store, domain: Domain, submit: Submit, create_running: Create
) -> None:
    with pytest.raises(errors.InstanceNotFound):
        await submit("nothing", OperationType.STOP_SERVICE)
    await create_running("jaascache", service_type="jaas")
    with pytest.raises(errors.InstanceNotFound):
        await submit("jaascache", OperationType.STOP_SERVICE, service_type="caching")
    other = await store.create_domain("otherdomain")
    request = operation(other, "jaascache", OperationType.STOP_SERVICE, service_type="jaas")
    with pytest.raises(errors.InstanceNotFound):
        await store.submit_operation(request)


async def test_a_second_operation_in_flight_is_refused(
    store: Store, domain: Domain, submit: Submit, create_running: Create, run_next: RunNext
) -> None:
    await create_running("MyCache")
    creating = await submit("new")
    with pytest.raises(errors.OperationInFlight) as raised:
        await submit("new", OperationType.DELETE_SERVICE)
    assert f"[{creating.job_id}]" in raised.value.message
    stopping = await submit("MyCache", OperationType.STOP_SERVICE)
    with pytest.raises(errors.OperationInFlight):
        await submit("MyCache", OperationType.STOP_SERVICE)
    claimed = await claim_next_job(store, "worker", 30.0)
    assert claimed is not None
    assert claimed.job_id == creating.job_id
    with pytest.raises(errors.OperationInFlight):
        await submit("new", "BACKUP")
    await store.finish_job(claimed, JobStatus.SUCCEED, [])
    await run_next(stopping.job_id)
    # Once the job ended, the instance takes operations again.
    await submit("MyCache", OperationType.START_SERVICE)


async def test_an_operation_the_state_forbids_is_refused(
    store: Store, domain: Domain, submit: Submit, create_running: Create
) -> None:
    await create_running("MyCache")
    with pytest.raises(errors.OperationNotAllowed) as raised:
        await submit("MyCache", OperationType.START_SERVICE)
    assert raised.value.message == (
        "Service [MyCache] is running; START_SERVICE needs it to be stopped."
    )
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.state == "running"
    assert (await store.search_jobs(domain.domain_id, JobQuery()))[1] == 1


async def test_a_refused_submission_leaves_nothing_behind(
    store: Store, domain: Domain, submit: Submit, create_running: Create
) -> None:
    created = await create_running("MyCache")
    for name, operation_type in (
        ("MyCache", OperationType.CREATE_SERVICE),
        ("MyCache", OperationType.START_SERVICE),
        ("nothing", OperationType.STOP_SERVICE),
    ):
        with pytest.raises((errors.Conflict, errors.NotFound)):
            await submit(name, operation_type)
    stop = await submit("MyCache", OperationType.STOP_SERVICE)
    assert stop.job_id == created.job_id + 1
    assert stop.activity_log_id == created.activity_log_id + 1


async def test_concurrent_operations_on_one_instance_from_two_stores_let_one_win(
    store: Store, domain: Domain, create_running: Create, open_another_store: OpenStore
) -> None:
    await create_running("MyCache")
    stores = [store, await open_another_store(), await open_another_store()]
    request = operation(domain, "MyCache", OperationType.STOP_SERVICE)
    outcomes = await asyncio.gather(
        *(s.submit_operation(request) for s in stores for _ in range(4)), return_exceptions=True
    )
    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(accepted) == 1
    assert all(isinstance(o, errors.OperationInFlight) for o in refused), refused


async def test_concurrent_creates_of_one_name_from_two_stores_let_one_win(
    store: Store, domain: Domain, open_another_store: OpenStore
) -> None:
    stores = [store, await open_another_store(), await open_another_store()]
    request = operation(domain, "MyCache")
    outcomes = await asyncio.gather(
        *(s.submit_operation(request) for s in stores for _ in range(4)), return_exceptions=True
    )
    accepted = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(accepted) == 1
    assert all(isinstance(o, errors.InstanceExists) for o in refused), refused
    assert len(await store.list_instances(domain.domain_id, "caching")) == 1


async def test_a_submission_wakes_a_waiting_worker(store: Store, submit: Submit) -> None:
    await settle_wakeups(store)
    waiting = asyncio.create_task(store.wait_for_new_jobs(10.0))
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    await submit()
    await asyncio.wait_for(waiting, 5.0)
    assert asyncio.get_running_loop().time() - started < 2.0


async def test_waiting_with_nothing_submitted_lasts_the_timeout(store: Store) -> None:
    await settle_wakeups(store)
    started = asyncio.get_running_loop().time()
    await store.wait_for_new_jobs(0.3)
    assert asyncio.get_running_loop().time() - started >= 0.25


async def test_creates_arriving_together_each_stand_alone(
    store: Store, domain: Domain, submit: Submit
) -> None:
    # PostgreSQL writes the creates that arrive at one moment in one statement: each must get
    # its own job and instance, and a taken name must fail its own create only.
    await submit("taken")
    names = [f"cache{n}" for n in range(8)]

    outcomes = await asyncio.gather(
        *(submit(name, parameters={"size": str(n)}) for n, name in enumerate(names)),
        return_exceptions=True,
    )
    with_taken = await asyncio.gather(
        submit("fresh1"), submit("taken"), submit("fresh2"), return_exceptions=True
    )

    assert not any(isinstance(outcome, BaseException) for outcome in outcomes)
    assert isinstance(with_taken[1], errors.InstanceExists)
    assert with_taken[1].message == (
        f"Service [taken] already exists in identity domain [{domain.name}]."
    )
    for name, submitted in zip(["fresh1", "fresh2"], with_taken[::2], strict=True):
        assert not isinstance(submitted, BaseException)
        job = await store.get_job(domain.domain_id, submitted.job_id)
        assert job is not None
        assert (job.service_name, job.service_id) == (name, submitted.service_id)
    for n, (name, submitted) in enumerate(zip(names, outcomes, strict=True)):
        assert not isinstance(submitted, BaseException)
        job = await store.get_job(domain.domain_id, submitted.job_id)
        instance = await store.get_instance(domain.domain_id, "caching", name)
        assert job is not None
        assert instance is not None
        assert (job.service_name, job.status, job.activity_log_id) == (
            name,
            JobStatus.NEW,
            submitted.activity_log_id,
        )
        assert [m.text for m in job.messages] == ["Activity Submitted"]
        assert instance.service_id == job.service_id == submitted.service_id
        assert (instance.state, instance.parameters) == ("creating", {"size": str(n)})
    ids = [o.job_id for o in outcomes if not isinstance(o, BaseException)]
    assert len(set(ids)) == len(names)
