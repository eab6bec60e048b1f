"""activitylog.testing.FakeJobContext: the real context's rules, the job made up, the reports
kept for the test; run with the demo ``caching`` handlers and the sample handlers."""

from __future__ import annotations

import asyncio

import pytest

from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.engine.demo_caching import demo_caching_service_type
from activitylog.engine.handlers import Handler, JobContext
from activitylog.testing import FakeJobContext
from tests.handlers.sample_handlers import degrade, greet

pytestmark = pytest.mark.anyio


async def test_the_job_is_shown_as_the_real_context_shows_it() -> None:
    parameters = {"size": "2"}
    context = FakeJobContext(
        operation_type="SCALE_SERVICE",
        service_name="MyCache",
        service_type="caching",
        identity_domain="exampledomain",
        parameters=parameters,
        job_id=7,
        attempt=2,
    )

    assert isinstance(context, JobContext)
    assert (context.job_id, context.attempt) == (7, 2)
    assert (context.service_name, context.service_type) == ("MyCache", "caching")
    assert (context.identity_domain, context.operation_type) == ("exampledomain", "SCALE_SERVICE")
    assert context.parameters == {"size": "2"}
    assert context.parameters is not parameters  # the test's dict is not the handler's


async def test_before_the_handler_runs_nothing_is_recorded() -> None:
    context = FakeJobContext()

    assert context.messages == []
    assert context.progress_reports == []
    assert context.percent_complete is None
    assert context.final_status is JobStatus.SUCCEED
    assert context.closing_messages == []
    assert not context.cancel_requested.is_set()
    assert context.cancel_requested_by is None


async def test_a_sample_handler_logs_and_reports_progress() -> None:
    handler: Handler = greet  # the type a worker calls: mypy takes the fake as its argument
    context = FakeJobContext(service_name="MyCache", parameters={"size": "4"})

    await handler(context)

    assert context.messages == [
        "Started operation to back up service [MyCache] in identity domain "
        "[ExampleIdentityDomain].",
        "Backed up 4G.",
    ]
    assert context.progress_reports == [50]
    assert context.percent_complete == 50
    assert context.final_status is JobStatus.SUCCEED


async def test_a_sample_handler_that_warns_ends_with_warn() -> None:
    context = FakeJobContext()

    await degrade(context)

    assert context.final_status is JobStatus.WARN
    assert context.closing_messages == ["Backup taken from a replica."]
    assert context.messages == []


async def test_progress_follows_the_real_rules() -> None:
    context = FakeJobContext()

    await context.progress(10)
    await context.progress(10)  # the same again: not written again
    await context.progress(0)
    for wrong in (-1, 101, True, 50.0):
        with pytest.raises(ValueError, match="whole percentage from 0 to 100"):
            await context.progress(wrong)  # type: ignore[arg-type]

    assert context.progress_reports == [10, 0]
    assert context.percent_complete == 0


@pytest.mark.parametrize("operation", list(OperationType))
async def test_the_demo_caching_handlers_walk_through_their_steps(operation: str) -> None:
    caching = demo_caching_service_type(step_delay=0)
    context = FakeJobContext(
        operation_type=operation,
        service_name="MyCache",
        service_type="caching",
        parameters={"size": "2"},
    )

    await caching.handler_for(operation)(context)

    verb = operation.removesuffix("_SERVICE").lower()
    where = "in identity domain [ExampleIdentityDomain]."
    assert context.messages[0] == f"Started operation to {verb} service [MyCache] {where}"
    assert context.messages[-1] == f"Completed operation to {verb} service [MyCache] {where}"
    assert len(context.messages) >= 3
    assert context.final_status is JobStatus.SUCCEED


async def test_a_cancellation_mid_run_stops_the_demo_at_the_next_step() -> None:
    caching = demo_caching_service_type(step_delay=0.001)
    context = FakeJobContext(service_name="MyCache", service_type="caching")
    context.request_cancel_after(messages=2, requested_by="ops@example.com")

    await caching.handler_for(OperationType.CREATE_SERVICE)(context)

    assert context.messages[2:] == [
        "Stopped at step 3 of 5: cancellation requested by ops@example.com.",
        "Service [MyCache] was not created: it is left failed; delete it to release what "
        "the create acquired.",
    ]
    assert context.final_status is JobStatus.FAILED


async def test_a_handler_that_watches_for_cancellation_stops_when_asked() -> None:
    async def wait_for_cancel(context: JobContext) -> None:
        await context.log("Waiting for the cluster...")
        await context.cancel_requested.wait()
        await context.log(f"Stopping, as {context.cancel_requested_by} asked.")

    context = FakeJobContext()
    running = asyncio.create_task(wait_for_cancel(context))
    await asyncio.sleep(0)  # the handler's first step
    assert context.messages == ["Waiting for the cluster..."]

    context.request_cancel("joe@example.com")
    context.request_cancel("someone.else@example.com")  # a worker keeps the first
    await running

    assert context.messages[-1] == "Stopping, as joe@example.com asked."


async def test_a_cancellation_after_zero_messages_is_requested_at_once() -> None:
    context = FakeJobContext()

    context.request_cancel_after(messages=0)

    assert context.cancel_requested.is_set()
    assert context.cancel_requested_by == "joe@example.com"
