"""The Worker: claiming, running handlers, leases, wake-ups and shutdown, on a real SQLite file."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

from activitylog import errors
from activitylog.domain.instances import InstanceState, OperationType
from activitylog.domain.jobs import (
    ENDED_MESSAGE,
    RELEASED_MESSAGE,
    STARTED_MESSAGE,
    SUBMITTED_MESSAGE,
    JobStatus,
)
from activitylog.engine.handlers import JobContext
from activitylog.engine.worker import Worker, failure_message
from activitylog.store.base import Store
from activitylog.store.records import ClaimedJob, Domain
from tests.engine.conftest import (
    DEADLINE,
    SERVICE_TYPE,
    Submit,
    registry_of,
    running,
    steal_lease,
    texts,
    wait_for_job,
    wait_until,
)

CREATE = OperationType.CREATE_SERVICE
FAST_POLL = 0.05


async def state_of(store: Store, domain: Domain, service_name: str) -> str:
    instance = await store.get_instance(domain.domain_id, SERVICE_TYPE, service_name)
    assert instance is not None
    return instance.state


# -- how a handler's outcome becomes the job's ---------------------------------------------


@pytest.mark.anyio
async def test_a_handler_that_returns_ends_succeed_with_its_messages_in_order(
    store: Store, domain: Domain, submit: Submit
) -> None:
    seen: dict[str, Any] = {}

    async def create(context: JobContext) -> None:
        seen.update(
            job_id=context.job_id,
            attempt=context.attempt,
            service=(context.identity_domain, context.service_type, context.service_name),
            operation=context.operation_type,
            parameters=dict(context.parameters),
        )
        for text in ("one", "two", "three"):
            await context.log(text)

    job_id = await submit("MyService", parameters={"size": "2"})
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=FAST_POLL)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.SUCCEED
    assert texts(job) == [
        SUBMITTED_MESSAGE,
        STARTED_MESSAGE,
        "one",
        "two",
        "three",
        ENDED_MESSAGE,
    ]
    dates = [message.activity_date for message in job.messages]
    assert dates == sorted(dates)
    assert job.end_date is not None
    assert job.end_date >= job.start_date
    assert seen == {
        "job_id": job_id,
        "attempt": 1,
        "service": ("exampledomain", SERVICE_TYPE, "MyService"),
        "operation": CREATE,
        "parameters": {"size": "2"},
    }
    assert await state_of(store, domain, "MyService") == InstanceState.RUNNING


async def raise_deep_down(reason: str) -> None:
    raise RuntimeError(reason)


@pytest.mark.anyio
async def test_a_handler_that_raises_ends_failed_with_one_line_and_no_traceback(
    store: Store, domain: Domain, submit: Submit
) -> None:
    async def create(context: JobContext) -> None:
        await context.log("Provisioning...")
        await raise_deep_down("disk quota exceeded\nsecond line of detail")

    job_id = await submit("MyService")
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=FAST_POLL)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.FAILED
    assert texts(job) == [
        SUBMITTED_MESSAGE,
        STARTED_MESSAGE,
        "Provisioning...",
        "Operation CREATE_SERVICE on service [MyService] failed: disk quota exceeded",
        ENDED_MESSAGE,
    ]
    for text in texts(job):
        assert "Traceback" not in text
        assert 'File "' not in text
        assert "raise_deep_down" not in text
    assert await state_of(store, domain, "MyService") == InstanceState.FAILED


@pytest.mark.anyio
async def test_warn_ends_the_job_warn_with_the_message(
    store: Store, domain: Domain, submit: Submit
) -> None:
    async def create(context: JobContext) -> None:
        await context.log("Created.")
        context.warn("Backup schedule not set: disk is 90% full.")

    job_id = await submit("MyService")
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=FAST_POLL)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.WARN
    assert texts(job) == [
        SUBMITTED_MESSAGE,
        STARTED_MESSAGE,
        "Created.",
        "Backup schedule not set: disk is 90% full.",
        ENDED_MESSAGE,
    ]
    # WARN is a success with warnings: the instance was created.
    assert await state_of(store, domain, "MyService") == InstanceState.RUNNING


@pytest.mark.anyio
async def test_an_operation_the_service_type_lacks_ends_failed(
    store: Store, domain: Domain, submit: Submit
) -> None:
    async def start(context: JobContext) -> None:
        raise AssertionError("not this one")

    job_id = await submit("MyService", CREATE)
    worker = Worker(
        store, registry_of((OperationType.START_SERVICE, start)), poll_interval=FAST_POLL
    )
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.FAILED
    assert texts(job)[2:] == [
        "Operation CREATE_SERVICE on service [MyService] failed: "
        f"Service type [{SERVICE_TYPE}] has no CREATE_SERVICE operation.",
        ENDED_MESSAGE,
    ]


# -- claiming --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_jobs_are_claimed_oldest_first(store: Store, domain: Domain, submit: Submit) -> None:
    order: list[int] = []

    async def create(context: JobContext) -> None:
        order.append(context.job_id)

    job_ids = [await submit(f"service{index}") for index in range(5)]
    worker = Worker(store, registry_of((CREATE, create)), concurrency=1, poll_interval=FAST_POLL)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            for job_id in job_ids:
                await wait_for_job(store, domain, job_id)

    assert order == sorted(job_ids)


@pytest.mark.anyio
async def test_concurrency_slots_are_respected(
    store: Store, domain: Domain, submit: Submit
) -> None:
    slots, total = 2, 6
    active = peak = 0
    started: list[int] = []
    gates: dict[int, anyio.Event] = {}

    async def create(context: JobContext) -> None:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        started.append(context.job_id)
        try:
            await gates.setdefault(context.job_id, anyio.Event()).wait()
        finally:
            active -= 1

    def running_at_least(count: int) -> Callable[[], bool]:
        return lambda: active >= count

    job_ids = [await submit(f"service{index}") for index in range(total)]
    worker = Worker(
        store, registry_of((CREATE, create)), concurrency=slots, poll_interval=FAST_POLL
    )
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            for ended in range(total):
                # Every slot is busy (or every job left has started); let the oldest finish.
                await wait_until(running_at_least(min(slots, total - ended)))
                oldest = started[ended]
                gates.setdefault(oldest, anyio.Event()).set()
                await wait_for_job(store, domain, oldest)

    assert peak == slots
    assert started == job_ids


@pytest.mark.anyio
async def test_a_job_submitted_while_the_worker_idles_is_claimed_at_once(
    store: Store, domain: Domain, submit: Submit, monkeypatch: pytest.MonkeyPatch
) -> None:
    idle = anyio.Event()
    waits: list[float] = []
    wait_for_new_jobs = store.wait_for_new_jobs

    async def observed_wait(timeout: float) -> None:
        waits.append(timeout)
        idle.set()
        await wait_for_new_jobs(timeout)

    monkeypatch.setattr(store, "wait_for_new_jobs", observed_wait)

    async def create(context: JobContext) -> None:
        await context.log("Created.")

    # Polling alone would find the job only after 30 s: far past the deadline.
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=30.0)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            await idle.wait()
            job_id = await submit("MyService")
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.SUCCEED
    assert waits[0] == 30.0


# -- leases ----------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_heartbeat_keeps_the_lease_of_a_long_handler(
    store: Store, domain: Domain, submit: Submit
) -> None:
    outcome: list[str] = []

    async def create(context: JobContext) -> None:
        # Runs past three lease lengths; only renewals keep its writes valid.
        await anyio.sleep(1.0)
        try:
            await context.log("Still holding the lease.")
        except errors.LeaseLost:
            outcome.append("lease lost")
            raise
        outcome.append("logged")

    job_id = await submit("MyService")
    worker = Worker(
        store,
        registry_of((CREATE, create)),
        lease_seconds=0.3,
        heartbeat_seconds=0.1,
        poll_interval=FAST_POLL,
    )
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            await wait_until(lambda: bool(outcome))
            assert outcome == ["logged"]
            job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.SUCCEED
    assert texts(job)[-2:] == ["Still holding the lease.", ENDED_MESSAGE]


@pytest.mark.anyio
async def test_a_handler_whose_lease_is_stolen_is_stopped_and_no_status_is_written(
    store: Store, domain: Domain, submit: Submit, sqlite_path: str
) -> None:
    stopped: list[str] = []

    async def create(context: JobContext) -> None:
        if context.service_name == "next":
            return
        await context.log("Before the lease was taken.")
        steal_lease(sqlite_path, context.job_id)
        # Either its own next write is refused, or the worker, having noticed the change to
        # the job, cancels it first: whichever comes first stops it.
        try:
            await context.log("After the lease was taken.")
            await anyio.sleep_forever()
        except errors.LeaseLost:
            stopped.append("lease lost")
            raise
        except anyio.get_cancelled_exc_class():
            stopped.append("cancelled")
            raise

    stolen_id = await submit("stolen")
    next_id = await submit("next")
    # One slot: the next job runs only once the worker is done with the stolen one.
    worker = Worker(store, registry_of((CREATE, create)), concurrency=1, poll_interval=FAST_POLL)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            following = await wait_for_job(store, domain, next_id)
            stolen = await store.get_job(domain.domain_id, stolen_id)

    assert following.status == JobStatus.SUCCEED
    assert len(stopped) == 1
    assert stolen is not None
    assert stolen.status == JobStatus.RUNNING
    assert stolen.end_date is None
    assert texts(stolen) == [SUBMITTED_MESSAGE, STARTED_MESSAGE, "Before the lease was taken."]


@pytest.mark.anyio
async def test_a_handler_that_returns_after_its_lease_was_stolen_writes_no_status(
    store: Store, domain: Domain, submit: Submit, sqlite_path: str
) -> None:
    async def create(context: JobContext) -> None:
        if context.service_name == "stolen":
            steal_lease(sqlite_path, context.job_id)

    stolen_id = await submit("stolen")
    next_id = await submit("next")
    worker = Worker(store, registry_of((CREATE, create)), concurrency=1, poll_interval=FAST_POLL)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            await wait_for_job(store, domain, next_id)
            stolen = await store.get_job(domain.domain_id, stolen_id)

    assert stolen is not None
    assert stolen.status == JobStatus.RUNNING
    assert texts(stolen) == [SUBMITTED_MESSAGE, STARTED_MESSAGE]


# -- stopping --------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_cancelling_an_idle_worker_stops_it(store: Store, submit: Submit) -> None:
    idle = anyio.Event()
    wait_for_new_jobs = store.wait_for_new_jobs

    async def observed_wait(timeout: float) -> None:
        idle.set()
        await wait_for_new_jobs(timeout)

    async def create(context: JobContext) -> None:
        raise AssertionError("no job was submitted")

    worker = Worker(store, registry_of((CREATE, create)), poll_interval=30.0)
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group:
            with pytest.MonkeyPatch.context() as patch:
                patch.setattr(store, "wait_for_new_jobs", observed_wait)
                group.start_soon(worker.run)
                await idle.wait()
            group.cancel_scope.cancel()


@pytest.mark.anyio
async def test_cancelling_the_worker_cancels_its_handlers_and_releases_their_jobs(
    store: Store, domain: Domain, submit: Submit
) -> None:
    entered = anyio.Event()
    cancelled: list[str] = []

    async def create(context: JobContext) -> None:
        entered.set()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(context.service_name)
            raise

    job_id = await submit("MyService")
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=FAST_POLL)
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group:
            group.start_soon(worker.run)
            await entered.wait()
            group.cancel_scope.cancel()

    assert cancelled == ["MyService"]
    # The handler had no outcome yet: the job is handed back for another worker.
    with anyio.fail_after(DEADLINE):
        job = await wait_for_job(store, domain, job_id, {JobStatus.NEW})
    assert texts(job) == [SUBMITTED_MESSAGE, STARTED_MESSAGE, RELEASED_MESSAGE]
    # The store is still usable: another worker runs the released job, and another, to its end.
    other_id = await submit("Other")
    attempts: list[int] = []

    async def finish(context: JobContext) -> None:
        attempts.append(context.attempt)
        await context.log("Done.")

    with anyio.fail_after(DEADLINE):
        async with running(Worker(store, registry_of((CREATE, finish)), poll_interval=FAST_POLL)):
            released = await wait_for_job(store, domain, job_id)
            other = await wait_for_job(store, domain, other_id)
    assert other.status == JobStatus.SUCCEED
    assert released.status == JobStatus.SUCCEED
    assert texts(released)[2:] == [RELEASED_MESSAGE, STARTED_MESSAGE, "Done.", ENDED_MESSAGE]
    assert sorted(attempts) == [1, 2]


@pytest.mark.anyio
async def test_an_outcome_being_written_when_the_worker_is_cancelled_is_still_recorded(
    store: Store, domain: Domain, submit: Submit, monkeypatch: pytest.MonkeyPatch
) -> None:
    finishing = anyio.Event()
    release = anyio.Event()
    finish_job = store.finish_job

    async def slow_finish(job: ClaimedJob, status: JobStatus, messages: Any) -> None:
        finishing.set()
        await release.wait()
        await finish_job(job, status, messages)

    monkeypatch.setattr(store, "finish_job", slow_finish)

    async def create(context: JobContext) -> None:
        await context.log("Created.")

    job_id = await submit("MyService")
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=FAST_POLL)
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as group:
            group.start_soon(worker.run)
            await finishing.wait()
            group.cancel_scope.cancel()
        release.set()
        job = await wait_for_job(store, domain, job_id)

    assert job.status == JobStatus.SUCCEED
    assert texts(job)[-2:] == ["Created.", ENDED_MESSAGE]


# -- the failure message ---------------------------------------------------------------------


def claimed(operation_type: str = "SCALE_SERVICE") -> ClaimedJob:
    return ClaimedJob(1, 1, "token", 2, "MyCache", "caching", "exampledomain", operation_type, {})


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (RuntimeError("node unreachable"), "node unreachable"),
        (RuntimeError("  first line  \nsecond line"), "first line"),
        (RuntimeError(""), "RuntimeError"),
        (TimeoutError(), "TimeoutError"),
        (ValueError("   \n  "), "ValueError"),
    ],
)
def test_failure_message_is_one_line(exc: BaseException, reason: str) -> None:
    assert failure_message(claimed(), exc) == (
        f"Operation SCALE_SERVICE on service [MyCache] failed: {reason}"
    )


@pytest.mark.anyio
async def test_a_worker_leaves_jobs_of_types_it_has_no_handler_for(
    store: Store, domain: Domain, submit: Submit
) -> None:
    async def create(context: JobContext) -> None:
        await context.log("Made it.")

    foreign = await submit("Elsewhere", service_type="dbaas")
    ours = await submit("Here")
    worker = Worker(store, registry_of((CREATE, create)), poll_interval=FAST_POLL)
    with anyio.fail_after(DEADLINE):
        async with running(worker):
            done = await wait_for_job(store, domain, ours)
    assert done.status == JobStatus.SUCCEED
    left = await store.get_job(domain.domain_id, foreign)
    assert left is not None
    assert left.status == JobStatus.NEW
    assert texts(left) == [SUBMITTED_MESSAGE]
