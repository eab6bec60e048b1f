"""engine.demo_caching.validate_caching_parameters: the demonstration service's `size`."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitylog import errors
from activitylog.domain.instances import OperationType
from activitylog.engine.demo_caching import (
    MAX_SIZE_GB,
    demo_caching_service_type,
    validate_caching_parameters,
)

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
        2.0,
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
