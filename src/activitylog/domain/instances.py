"""Service-instance states, and how each operation moves an instance through them."""

from __future__ import annotations

import dataclasses
import enum

from activitylog import errors
from activitylog.domain.jobs import JobStatus


class InstanceState(enum.StrEnum):
    """The states we keep; PSM's clients see them as wire_state() names them."""

    CREATING = "creating"
    RUNNING = "running"
    STOPPED = "stopped"
    DELETING = "deleting"
    DELETED = "deleted"
    FAILED = "failed"


class OperationType(enum.StrEnum):
    CREATE_SERVICE = "CREATE_SERVICE"
    DELETE_SERVICE = "DELETE_SERVICE"
    START_SERVICE = "START_SERVICE"
    STOP_SERVICE = "STOP_SERVICE"
    RESTART_SERVICE = "RESTART_SERVICE"
    SCALE_SERVICE = "SCALE_SERVICE"


# JCS's scale-out and scale-in (POST and PUT .../servers). Not OperationType members: a service
# type offers them only when it declares them, and the demo type offers every OperationType.
SCALE_OUT = "SCALE_OUT"
SCALE_IN = "SCALE_IN"


@dataclasses.dataclass(frozen=True, slots=True)
class OperationRule:
    """Which states an operation may start from, and where it leaves the instance.

    ``None`` for a state means "leave it as it was before the operation".
    """

    allowed_from: frozenset[InstanceState]
    state_while_running: InstanceState | None
    state_on_success: InstanceState | None
    state_on_failure: InstanceState | None


_LIVE = frozenset({InstanceState.RUNNING, InstanceState.STOPPED})
_RULES: dict[str, OperationRule] = {
    OperationType.CREATE_SERVICE: OperationRule(
        frozenset(), InstanceState.CREATING, InstanceState.RUNNING, InstanceState.FAILED
    ),
    OperationType.DELETE_SERVICE: OperationRule(
        _LIVE | {InstanceState.FAILED}, InstanceState.DELETING, InstanceState.DELETED, None
    ),
    OperationType.START_SERVICE: OperationRule(
        frozenset({InstanceState.STOPPED}), None, InstanceState.RUNNING, None
    ),
    OperationType.STOP_SERVICE: OperationRule(
        frozenset({InstanceState.RUNNING}), None, InstanceState.STOPPED, None
    ),
    OperationType.RESTART_SERVICE: OperationRule(
        frozenset({InstanceState.RUNNING}), None, InstanceState.RUNNING, None
    ),
    OperationType.SCALE_SERVICE: OperationRule(
        frozenset({InstanceState.RUNNING}), None, None, None
    ),
    SCALE_OUT: OperationRule(frozenset({InstanceState.RUNNING}), None, None, None),
    SCALE_IN: OperationRule(frozenset({InstanceState.RUNNING}), None, None, None),
}
# Service types may define operations of their own; they run on a live instance and leave
# its state alone.
_DEFAULT_RULE = OperationRule(_LIVE, None, None, None)


def rule_for(operation_type: str) -> OperationRule:
    return _RULES.get(operation_type, _DEFAULT_RULE)


def state_on_submit(
    operation_type: str, current: InstanceState, service_name: str
) -> InstanceState:
    """The state an instance takes when the operation is accepted, or raise why it is refused."""
    rule = rule_for(operation_type)
    if current not in rule.allowed_from:
        raise errors.OperationNotAllowed(_refusal(operation_type, rule, current, service_name))
    return rule.state_while_running or current


def _refusal(
    operation_type: str, rule: OperationRule, current: InstanceState, service_name: str
) -> str:
    if not rule.allowed_from:
        # CREATE_SERVICE: no existing instance, whatever its state, can be created again.
        return f"Service [{service_name}] already exists; {operation_type} cannot apply to it."
    needed = " or ".join(sorted(rule.allowed_from))
    return f"Service [{service_name}] is {current}; {operation_type} needs it to be {needed}."


def state_on_end(operation_type: str, status: JobStatus, previous: InstanceState) -> InstanceState:
    """The state an instance takes when its operation ends with ``status``."""
    return new_state_on_end(operation_type, status) or previous


def new_state_on_end(operation_type: str, status: JobStatus) -> InstanceState | None:
    """The state an instance takes when its operation ends with ``status``; None: the state
    it had before the operation."""
    rule = rule_for(operation_type)
    return rule.state_on_failure if status is JobStatus.FAILED else rule.state_on_success


class WireState(enum.StrEnum):
    """The PSM service-instance states we answer with, as its instance views spell them (the
    ``state`` the Go client behind Terraform's Oracle PaaS provider polls until READY). PSM
    has more (INITIALIZING, STARTING, STOPPING, MAINTENANCE, ...): docs/compatibility.md says
    why we do not show them."""

    CONFIGURING = "CONFIGURING"
    READY = "READY"
    STOPPED = "STOPPED"
    TERMINATING = "TERMINATING"
    TERMINATED = "TERMINATED"
    FAILED = "FAILED"


# The one place our states meet PSM's words: the status word of its older views, and the
# state of its instance-management views. A deleted instance is never viewed (404), but it
# is named all the same.
_PSM_NAMES: dict[InstanceState, tuple[str, WireState]] = {
    InstanceState.CREATING: ("In Progress", WireState.CONFIGURING),
    InstanceState.RUNNING: ("Running", WireState.READY),
    InstanceState.STOPPED: ("Stopped", WireState.STOPPED),
    InstanceState.DELETING: ("Terminating", WireState.TERMINATING),
    InstanceState.DELETED: ("Deleted", WireState.TERMINATED),
    InstanceState.FAILED: ("Failed", WireState.FAILED),
}


def oracle_status(state: InstanceState) -> str:
    """The status word PSM's instance views use for this state (``Running``)."""
    return _PSM_NAMES[state][0]


def wire_state(state: InstanceState) -> WireState:
    """The ``state`` PSM's instance views give an instance in this state (``READY``)."""
    return _PSM_NAMES[state][1]


def state_display_name(state: InstanceState) -> str:
    """``serviceStateDisplayName``: the wire state as a word (``READY`` gives ``Ready``)."""
    return wire_state(state).value.capitalize()
