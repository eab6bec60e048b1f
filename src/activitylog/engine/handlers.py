"""What an operation handler is, what it receives, and where service types are registered.

A handler is an async callable taking a JobContext. It reports progress by appending
messages; returning means success, raising means failure, and ``context.warn()`` makes the
job end with WARN. docs/handlers.md is the guide.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol

from activitylog import errors
from activitylog.domain.jobs import JobStatus
from activitylog.domain.parameters import DeclaredParameter, check_parameters
from activitylog.engine.service_types_config import OperationPolicy
from activitylog.store.records import ClaimedJob

__all__ = [
    "ActivityWriter",
    "Handler",
    "JobContext",
    "OperationPolicy",
    "ParameterValidator",
    "ServiceType",
    "ServiceTypeRegistry",
    "accept_any_parameters",
]


class ActivityWriter(Protocol):
    """Where a JobContext writes what its handler reports: the Store in a worker, a recorder
    in activitylog.testing.FakeJobContext."""

    async def append_message(self, job: ClaimedJob, text: str) -> None: ...

    async def set_progress(self, job: ClaimedJob, percent: int) -> None: ...


class JobContext:
    """The view of its job that a handler gets: who asked for what, and how to report back."""

    def __init__(self, store: ActivityWriter, job: ClaimedJob) -> None:
        self._store = store
        self._job = job
        self.final_status = JobStatus.SUCCEED
        self.closing_messages: list[str] = []
        self.percent_complete: int | None = None
        self.cancel_requested = asyncio.Event()
        """Set once someone asked to cancel the job: wind down and return (or raise). A handler
        still running the worker's cancel grace period later is cancelled. Either way the job
        ends FAILED, saying who cancelled it."""
        self.cancel_requested_by: str | None = None

    def note_cancel_request(self, requested_by: str) -> None:
        """Called by the worker when it learns of a cancellation."""
        self.cancel_requested_by = requested_by
        self.cancel_requested.set()

    @property
    def job_id(self) -> int:
        return self._job.job_id

    @property
    def attempt(self) -> int:
        return self._job.attempt

    @property
    def service_name(self) -> str:
        return self._job.service_name

    @property
    def service_type(self) -> str:
        return self._job.service_type

    @property
    def identity_domain(self) -> str:
        return self._job.identity_domain

    @property
    def operation_type(self) -> str:
        return self._job.operation_type

    @property
    def parameters(self) -> Mapping[str, Any]:
        return self._job.parameters

    async def log(self, message: str) -> None:
        """Append a timestamped message to the job's activity log, durably."""
        await self._store.append_message(self._job, message)

    async def progress(self, percent: int) -> None:
        """Report how far the operation has got, from 0 to 100, durably.

        It shows as ``percentComplete`` in the job body (after ``messages``) from then on.
        """
        if isinstance(percent, bool) or not isinstance(percent, int) or not 0 <= percent <= 100:
            raise ValueError(f"progress is a whole percentage from 0 to 100, got {percent!r}")
        if percent != self.percent_complete:
            await self._store.set_progress(self._job, percent)
        self.percent_complete = percent

    def warn(self, message: str | None = None) -> None:
        """End the job with WARN instead of SUCCEED once the handler returns."""
        self.final_status = JobStatus.WARN
        if message:
            self.closing_messages.append(message)


Handler = Callable[[JobContext], Awaitable[None]]
ParameterValidator = Callable[[str, Mapping[str, Any]], dict[str, Any]]


def accept_any_parameters(operation_type: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    return dict(parameters)


@dataclasses.dataclass(frozen=True)
class ServiceType:
    """A kind of service instance (``caching``, say) and the handler of each operation."""

    name: str
    handlers: Mapping[str, Handler]
    validate_parameters: ParameterValidator = accept_any_parameters
    description: str = ""
    policies: Mapping[str, OperationPolicy] = dataclasses.field(default_factory=dict)
    """Per operation; an operation not listed gets the default OperationPolicy()."""
    warn_as_succeed: bool = False
    """Its jobs that end WARN read SUCCEED on the wire (docs/compatibility.md)."""
    parameters: tuple[DeclaredParameter, ...] = ()
    """The service parameters it declares: checked before ``validate_parameters`` runs, and
    published in /openapi.json."""

    def offers(self, operation_type: str) -> bool:
        return operation_type in self.handlers

    def check_parameters(
        self, operation_type: str, parameters: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The service type's own validator (its wording wins), then the declared parameters'
        checks on what it returns; raise InvalidParameters listing every problem found."""
        validated = self.validate_parameters(operation_type, parameters)
        cleaned, issues = check_parameters(self.parameters, operation_type, validated)
        if issues:
            raise errors.InvalidParameters(issues=issues)
        return cleaned

    def handler_for(self, operation_type: str) -> Handler:
        try:
            return self.handlers[operation_type]
        except KeyError:
            raise errors.NotFound(
                f"Service type [{self.name}] has no {operation_type} operation."
            ) from None

    def policy_for(self, operation_type: str) -> OperationPolicy:
        return self.policies.get(operation_type, _DEFAULT_POLICY)


_DEFAULT_POLICY = OperationPolicy()


class ServiceTypeRegistry:
    def __init__(self, service_types: Iterable[ServiceType] = ()) -> None:
        self._types: dict[str, ServiceType] = {}
        for service_type in service_types:
            self.add(service_type)

    def add(self, service_type: ServiceType) -> None:
        if service_type.name in self._types:
            raise ValueError(f"service type {service_type.name!r} is registered twice")
        self._types[service_type.name] = service_type

    def get(self, name: str) -> ServiceType:
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self._types)) or "none"
            raise errors.ServiceTypeNotFound(
                f"No service type [{name}] is configured here (configured: {known})."
            ) from None

    def names(self) -> list[str]:
        return sorted(self._types)
