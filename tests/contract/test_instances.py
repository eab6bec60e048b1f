"""Service instances follow their operations: create, stop, start, restart, scale, delete."""

from __future__ import annotations

import pytest

from activitylog import errors
from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.store.base import Store
from activitylog.store.records import Domain, Instance
from tests.contract.conftest import USER, Create, RunNext, Submit

pytestmark = pytest.mark.anyio


async def state_of(store: Store, domain: Domain, name: str = "MyCache") -> str | None:
    instance = await store.get_instance(domain.domain_id, "caching", name)
    return instance.state if instance else None


async def test_a_created_instance_is_creating_then_running(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext
) -> None:
    created = await submit("MyCache", parameters={"size": "1", "note": "first"})
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.service_id == created.service_id
    assert (instance.identity_domain, instance.service_type, instance.name) == (
        domain.name,
        "caching",
        "MyCache",
    )
    assert instance.state == "creating"
    assert instance.parameters == {"size": "1", "note": "first"}
    assert list(instance.parameters) == ["size", "note"]
    assert instance.created_by == USER
    assert instance.description == ""
    assert instance.created_at == instance.updated_at
    await run_next(created.job_id)
    running = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert running is not None
    assert running.state == "running"
    assert running.updated_at >= instance.updated_at


async def test_a_failed_create_leaves_a_failed_instance_that_may_be_deleted(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext
) -> None:
    created = await submit()
    await run_next(created.job_id, JobStatus.FAILED)
    assert await state_of(store, domain) == "failed"
    with pytest.raises(errors.OperationNotAllowed):
        await submit("MyCache", OperationType.STOP_SERVICE)
    with pytest.raises(errors.InstanceExists):
        await submit()
    deleting = await submit("MyCache", OperationType.DELETE_SERVICE)
    await run_next(deleting.job_id)
    assert await state_of(store, domain) is None


async def test_a_create_that_warns_still_leaves_a_running_instance(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext
) -> None:
    created = await submit()
    await run_next(created.job_id, JobStatus.WARN, ["Created with warnings."])
    assert await state_of(store, domain) == "running"


async def test_stop_then_start(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext, create_running: Create
) -> None:
    await create_running()
    stopping = await submit("MyCache", OperationType.STOP_SERVICE)
    assert await state_of(store, domain) == "running"  # until the stop has happened
    await run_next(stopping.job_id)
    assert await state_of(store, domain) == "stopped"
    for refused in (OperationType.STOP_SERVICE, OperationType.RESTART_SERVICE):
        with pytest.raises(errors.OperationNotAllowed):
            await submit("MyCache", refused)
    starting = await submit("MyCache", OperationType.START_SERVICE)
    await run_next(starting.job_id)
    assert await state_of(store, domain) == "running"


async def test_a_failed_stop_leaves_the_state_as_it_was(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext, create_running: Create
) -> None:
    await create_running()
    stopping = await submit("MyCache", OperationType.STOP_SERVICE)
    await run_next(stopping.job_id, JobStatus.FAILED)
    assert await state_of(store, domain) == "running"


async def test_restart_keeps_the_instance_running(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext, create_running: Create
) -> None:
    await create_running()
    restarting = await submit("MyCache", OperationType.RESTART_SERVICE)
    await run_next(restarting.job_id)
    assert await state_of(store, domain) == "running"


async def test_scale_merges_its_parameters_into_the_instance_on_success(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext, create_running: Create
) -> None:
    await create_running("MyCache", {"size": "1", "level": "basic"})
    scaling = await submit("MyCache", OperationType.SCALE_SERVICE, {"size": "2", "zone": "a"})
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.parameters == {"size": "1", "level": "basic"}  # not before it ran
    await run_next(scaling.job_id)
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.state == "running"
    assert instance.parameters == {"size": "2", "level": "basic", "zone": "a"}
    assert list(instance.parameters) == ["size", "level", "zone"]


async def test_a_scale_that_warns_merges_and_a_failed_one_does_not(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext, create_running: Create
) -> None:
    await create_running("MyCache", {"size": "1"})
    failed = await submit("MyCache", OperationType.SCALE_SERVICE, {"size": "9"})
    await run_next(failed.job_id, JobStatus.FAILED)
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.parameters == {"size": "1"}
    warned = await submit("MyCache", OperationType.SCALE_SERVICE, {"size": "3"})
    await run_next(warned.job_id, JobStatus.WARN)
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.parameters == {"size": "3"}


async def test_scale_needs_a_running_instance(
    submit: Submit, run_next: RunNext, create_running: Create
) -> None:
    await create_running()
    stopping = await submit("MyCache", OperationType.STOP_SERVICE)
    await run_next(stopping.job_id)
    with pytest.raises(errors.OperationNotAllowed):
        await submit("MyCache", OperationType.SCALE_SERVICE, {"size": "2"})


async def test_a_deleted_instance_is_gone_and_its_name_free(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext, create_running: Create
) -> None:
    first = await create_running()
    deleting = await submit("MyCache", OperationType.DELETE_SERVICE)
    assert await state_of(store, domain) == "deleting"
    for refused in (OperationType.CREATE_SERVICE, OperationType.STOP_SERVICE):
        with pytest.raises((errors.InstanceExists, errors.OperationInFlight)):
            await submit("MyCache", refused)
    await run_next(deleting.job_id)
    assert await state_of(store, domain) is None
    assert await store.list_instances(domain.domain_id, "caching") == []
    with pytest.raises(errors.InstanceNotFound):
        await submit("MyCache", OperationType.START_SERVICE)
    second = await create_running()
    assert second.service_id != first.service_id
    assert await state_of(store, domain) == "running"
    # The old job still tells of the old instance.
    old = await store.get_job(domain.domain_id, deleting.job_id)
    assert old is not None
    assert old.service_id == first.service_id


async def test_a_failed_delete_leaves_the_instance_as_it_was(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext, create_running: Create
) -> None:
    await create_running()
    stopping = await submit("MyCache", OperationType.STOP_SERVICE)
    await run_next(stopping.job_id)
    deleting = await submit("MyCache", OperationType.DELETE_SERVICE)
    await run_next(deleting.job_id, JobStatus.FAILED)
    assert await state_of(store, domain) == "stopped"


async def test_an_operation_of_the_service_types_own_leaves_the_state_alone(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext, create_running: Create
) -> None:
    await create_running()
    backup = await submit("MyCache", "BACKUP", {"target": "s3"})
    await run_next(backup.job_id)
    instance = await store.get_instance(domain.domain_id, "caching", "MyCache")
    assert instance is not None
    assert instance.state == "running"
    assert instance.parameters == {}


async def test_instances_are_listed_by_name_per_type_and_domain(
    store: Store, domain: Domain, submit: Submit, create_running: Create
) -> None:
    for name in ("beta", "Alpha", "alpha"):
        await create_running(name)
    await create_running("other", service_type="jaas")
    other_domain = await store.create_domain("otherdomain")
    listed = await store.list_instances(domain.domain_id, "caching")
    assert [i.name for i in listed] == ["Alpha", "alpha", "beta"]
    assert all(isinstance(i, Instance) and i.state == "running" for i in listed)
    assert [i.name for i in await store.list_instances(domain.domain_id, "jaas")] == ["other"]
    assert await store.list_instances(other_domain.domain_id, "caching") == []
    assert await store.get_instance(other_domain.domain_id, "caching", "beta") is None


async def test_each_live_instance_comes_with_its_newest_job(
    store: Store, domain: Domain, submit: Submit, run_next: RunNext, create_running: Create
) -> None:
    await create_running("Old")
    deleting = await submit("Old", OperationType.DELETE_SERVICE)
    await run_next(deleting.job_id)
    again = await submit("Old")  # the name freed by the delete, for a new instance
    await run_next(again.job_id)
    await create_running("Busy")
    stopping = await submit("Busy", OperationType.STOP_SERVICE)
    await submit("Other", service_type="other")

    found = await store.list_instances_with_last_job(domain.domain_id, "caching")

    assert [(entry.instance.name, entry.instance.state) for entry in found] == [
        ("Busy", "running"),
        ("Old", "running"),
    ]
    busy, old = (entry.last_job for entry in found)
    assert busy is not None
    assert old is not None
    assert (busy.job_id, busy.operation_type, busy.status, busy.end_date) == (
        stopping.job_id,
        OperationType.STOP_SERVICE,
        JobStatus.NEW,
        None,
    )
    assert busy.service_id == found[0].instance.service_id
    assert (old.job_id, old.operation_type, old.status) == (
        again.job_id,
        OperationType.CREATE_SERVICE,
        JobStatus.SUCCEED,
    )
    assert old.end_date is not None
    assert old.end_date >= old.start_date
    assert await store.list_instances_with_last_job(domain.domain_id, "nothing") == []
