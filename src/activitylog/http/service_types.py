"""What the API needs of the configured service types, as protocols.

The routes check a submission against its service type and record the job; running it is the
engine's business. So http names only what it reads, and the engine's ServiceTypeRegistry,
handed in by the server's assembly (activitylog.serving), fits these protocols: mypy checks
it there, and http never imports the engine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from activitylog.domain.parameters import DeclaredParameter


class SubmissionPolicy(Protocol):
    """How often the job of an operation may be tried, recorded with the job."""

    @property
    def attempts(self) -> int: ...

    @property
    def backoff(self) -> float: ...


class OfferedServiceType(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def warn_as_succeed(self) -> bool:
        """Whether its jobs that end WARN read SUCCEED on the wire (domain.jobs.WarnReporting)."""
        ...

    @property
    def parameters(self) -> Sequence[DeclaredParameter]:
        """What create and scale bodies may carry, for /openapi.json."""
        ...

    def check_parameters(
        self, operation_type: str, parameters: Mapping[str, Any], /
    ) -> dict[str, Any]:
        """Raise errors.InvalidParameters when they are not valid; return them cleaned."""
        ...

    def offers(self, operation_type: str) -> bool: ...

    def handler_for(self, operation_type: str) -> object:
        """Raise errors.NotFound when the service type does not offer the operation."""
        ...

    def policy_for(self, operation_type: str) -> SubmissionPolicy: ...


class ServiceTypes(Protocol):
    def get(self, name: str) -> OfferedServiceType:
        """Raise errors.ServiceTypeNotFound when no such service type is configured."""
        ...

    def names(self) -> list[str]: ...
