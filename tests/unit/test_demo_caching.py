"""engine.demo_caching: the demonstration service's `size`, and how its walk through the steps
stops when the job is cancelled."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitylog import errors
from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.engine.demo_caching import (
    MAX_SIZE_GB,
    demo_caching_service_type,
    validate_caching_parameters,
)
from activitylog.testing import FakeJobContext

OP = OperationType


@pytest.mark.parametrize(
    ("size", "cleaned"),
    [("1", "1"), ("64", "64"), ("007", "7"), (2, "2"), (MAX_SIZE_GB, str(MAX_SIZE_GB))],
)
def test_good_sizes_are_normalised_to_a_string(size: Any, cleaned: str) -> None:
    assert validate_caching_parameters(OP.SCALE_SERVICE, {"size": size}) == {"size": cleaned}


def test_other_parameters_pass_through() -> None:
    parameters = {"serviceName": "MyCache", "serviceDescription": "d", "size": "2"}
    assert validate_caching_parameters(OP.CREATE_SERVICE, parameters) == parameters


def test_create_defaults_size_to_one() -> None:
    cleaned = validate_caching_parameters(OP.CREATE_SERVICE, {"serviceName": "MyCache"})
    assert cleaned == {"serviceName": "MyCache", "size": "1"}


def test_scale_requires_size() -> None:
    with pytest.raises(errors.InvalidParameters) as raised:
        validate_caching_parameters(OP.SCALE_SERVICE, {})
    assert raised.value.issues == ["serviceParameters.size: required to scale"]


@pytest.mark.parametrize("operation", [OP.START_SERVICE, OP.DELETE_SERVICE, "BACKUP"])
def test_other_operations_need_no_size(operation: str) -> None:
    assert validate_caching_parameters(operation, {"allServiceHosts": True}) == {
        "allServiceHosts": True
    }


def test_the_input_is_not_modified() -> None:
    parameters: dict[str, Any] = {"size": 3}
    validate_caching_parameters(OP.CREATE_SERVICE, parameters)
    assert parameters == {"size": 3}


@pytest.mark.parametrize(
    "size",
    [
        "0",
        "65",
        0,
        65,
        -1,
        "-1",
        " 2",
        "2 ",
        "",
        "two",
        "1.0",
        2.5,
        True,
        None,
        ["2"],
        "\u0662",  # a digit, but not an ASCII one
        "\uff19",  # full width
        # int() of the first raises ValueError, and so does str() of the others
        pytest.param("9" * 5000, id="5000-digit-text"),
        pytest.param(10**5000, id="5000-digit-int"),
        pytest.param(-(10**5000), id="5000-digit-negative-int"),
    ],
)
def test_bad_sizes_are_invalid_parameters(size: Any) -> None:
    with pytest.raises(errors.InvalidParameters) as raised:
        validate_caching_parameters(OP.SCALE_SERVICE, {"size": size})
    assert raised.value.status_code == 400
    [issue] = raised.value.issues
    assert issue.startswith("serviceParameters.size: expected whole gigabytes from 1 to 64")
    assert len(issue) < 200


@settings(deadline=None)  # a slow machine is not a failure
@given(st.one_of(st.text(), st.integers(), st.floats(), st.booleans(), st.none()))
def test_any_size_is_accepted_or_invalid_parameters(size: object) -> None:
    try:
        cleaned = validate_caching_parameters(OP.SCALE_SERVICE, {"size": size})
    except errors.InvalidParameters:
        return
    assert 1 <= int(cleaned["size"]) <= MAX_SIZE_GB


def test_the_demo_service_type_handles_every_standard_operation() -> None:
    service_type = demo_caching_service_type(step_delay=0)
    assert service_type.name == "caching"
    assert set(service_type.handlers) == set(OperationType)
    assert service_type.validate_parameters is validate_caching_parameters


def run_demo(context: FakeJobContext) -> None:
    """The demo's handler for the context's operation, with no pauses, run to its end."""
    handler = demo_caching_service_type(step_delay=0).handler_for(context.operation_type)

    async def walk() -> None:
        await handler(context)

    asyncio.run(walk())


@pytest.mark.parametrize("operation", list(OperationType))
@pytest.mark.parametrize("after", [0, 1, 2])
def test_a_cancelled_walk_stops_at_the_next_step_and_says_so(operation: str, after: int) -> None:
    context = FakeJobContext(operation_type=operation, service_name="MyCache")
    context.request_cancel_after(messages=after, requested_by="ops@example.com")

    run_demo(context)

    verb = operation.removesuffix("_SERVICE").lower()
    steps = {"CREATE": 5, "DELETE": 4, "RESTART": 4, "SCALE": 4}.get(verb.upper(), 3)
    assert context.messages[after] == (
        f"Stopped at step {after + 1} of {steps}: cancellation requested by ops@example.com."
    )
    assert len(context.messages) == after + 2
    assert not any(message.startswith("Completed") for message in context.messages)
    assert context.final_status is JobStatus.FAILED


def test_a_cancelled_create_says_the_instance_is_left_failed() -> None:
    context = FakeJobContext(operation_type=OperationType.CREATE_SERVICE, service_name="C1")
    context.request_cancel_after(messages=3)

    run_demo(context)

    assert context.messages[-1] == (
        "Service [C1] was not created: it is left failed; delete it to release what the "
        "create acquired."
    )


def test_another_cancelled_operation_says_the_instance_is_left_as_it_was() -> None:
    context = FakeJobContext(operation_type=OperationType.STOP_SERVICE, service_name="C1")
    context.request_cancel_after(messages=1)

    run_demo(context)

    assert context.messages[-1] == "Service [C1] is left as it was before the operation."


def test_a_cancellation_during_a_step_delay_stops_the_walk_at_once() -> None:
    async def cancel_soon(context: FakeJobContext) -> float:
        handler = demo_caching_service_type(step_delay=30.0).handler_for("CREATE_SERVICE")
        walking = asyncio.ensure_future(handler(context))
        await asyncio.sleep(0.05)
        context.request_cancel()
        started = asyncio.get_running_loop().time()
        await asyncio.wait_for(walking, 5.0)
        return asyncio.get_running_loop().time() - started

    context = FakeJobContext(service_name="C1")
    assert asyncio.run(cancel_soon(context)) < 1.0
    assert context.messages[0] == (
        "Stopped at step 1 of 5: cancellation requested by joe@example.com."
    )


def test_a_whole_float_is_a_whole_number_as_json_schema_has_it() -> None:
    # /openapi.json publishes size as an integer, and 2.0 is one to JSON Schema.
    assert validate_caching_parameters(OP.SCALE_SERVICE, {"size": 2.0}) == {"size": "2"}
