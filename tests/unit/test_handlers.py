"""engine.handlers: service types, their registry, and the context a handler gets."""

from __future__ import annotations

from typing import cast

import pytest

from activitylog import errors
from activitylog.domain.jobs import JobStatus
from activitylog.engine.handlers import (
    JobContext,
    ServiceType,
    ServiceTypeRegistry,
    accept_any_parameters,
)
from activitylog.store.base import Store
from activitylog.store.records import ClaimedJob


async def do_nothing(context: JobContext) -> None:
    pass


def service_type(name: str, *operations: str) -> ServiceType:
    return ServiceType(name=name, handlers=dict.fromkeys(operations, do_nothing))


def test_registry_finds_registered_types() -> None:
    caching, jaas = service_type("caching"), service_type("jaas")
    registry = ServiceTypeRegistry([caching, jaas])
    assert registry.get("caching") is caching
    assert registry.get("jaas") is jaas
    assert registry.names() == ["caching", "jaas"]


def test_unknown_type_is_not_found_and_lists_the_configured_ones() -> None:
    registry = ServiceTypeRegistry([service_type("jaas"), service_type("caching")])
    with pytest.raises(errors.ServiceTypeNotFound) as raised:
        registry.get("dbaas")
    assert raised.value.status_code == 404
    assert raised.value.message == (
        "No service type [dbaas] is configured here (configured: caching, jaas)."
    )


def test_unknown_type_in_an_empty_registry() -> None:
    with pytest.raises(errors.ServiceTypeNotFound, match=r"\(configured: none\)"):
        ServiceTypeRegistry().get("caching")


def test_names_are_case_sensitive() -> None:
    registry = ServiceTypeRegistry([service_type("MySQLCS")])
    with pytest.raises(errors.ServiceTypeNotFound):
        registry.get("mysqlcs")


def test_duplicate_registration_is_refused() -> None:
    registry = ServiceTypeRegistry([service_type("caching")])
    with pytest.raises(ValueError, match="'caching' is registered twice"):
        registry.add(service_type("caching"))
    with pytest.raises(ValueError, match="registered twice"):
        ServiceTypeRegistry([service_type("jaas"), service_type("jaas")])


def test_handler_for_a_missing_operation_is_not_found() -> None:
    caching = service_type("caching", "CREATE_SERVICE")
    assert caching.handler_for("CREATE_SERVICE") is do_nothing
    with pytest.raises(errors.NotFound, match=r"\[caching\] has no BACKUP operation"):
        caching.handler_for("BACKUP")


def test_default_validation_accepts_any_parameters_as_a_copy() -> None:
    parameters = {"size": "2", "anything": [1, 2]}
    cleaned = accept_any_parameters("CREATE_SERVICE", parameters)
    assert cleaned == parameters
    assert cleaned is not parameters
    assert service_type("x").validate_parameters is accept_any_parameters


def make_context() -> JobContext:
    job = ClaimedJob(
        job_id=7,
        attempt=1,
        lease_token="token",
        service_id=3,
        service_name="MyCache",
        service_type="caching",
        identity_domain="exampledomain",
        operation_type="SCALE_SERVICE",
        parameters={"size": "2"},
    )
    return JobContext(cast(Store, None), job)  # these tests never reach the store


def test_context_shows_the_job() -> None:
    context = make_context()
    assert (context.job_id, context.attempt) == (7, 1)
    assert (context.service_name, context.service_type) == ("MyCache", "caching")
    assert (context.identity_domain, context.operation_type) == ("exampledomain", "SCALE_SERVICE")
    assert context.parameters == {"size": "2"}


def test_context_ends_with_succeed_by_default() -> None:
    context = make_context()
    assert context.final_status is JobStatus.SUCCEED
    assert context.closing_messages == []


def test_warn_ends_with_warn_and_keeps_each_message() -> None:
    context = make_context()
    context.warn("Disk is 90% full.")
    context.warn()
    context.warn("Backup skipped.")
    assert context.final_status is JobStatus.WARN
    assert context.closing_messages == ["Disk is 90% full.", "Backup skipped."]
