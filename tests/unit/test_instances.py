"""domain.instances: how each operation moves a service instance through its states."""

from __future__ import annotations

import pytest

from activitylog import errors
from activitylog.domain.instances import (
    InstanceState,
    OperationType,
    oracle_status,
    rule_for,
    state_on_end,
    state_on_submit,
)
from activitylog.domain.jobs import JobStatus

S = InstanceState
OP = OperationType
CUSTOM = "BACKUP"  # service types may define operations of their own

# operation -> {state it may start from: state while it runs}
SUBMIT: dict[str, dict[InstanceState, InstanceState]] = {
    OP.CREATE_SERVICE: {},
    OP.DELETE_SERVICE: {S.RUNNING: S.DELETING, S.STOPPED: S.DELETING, S.FAILED: S.DELETING},
    OP.START_SERVICE: {S.STOPPED: S.STOPPED},
    OP.STOP_SERVICE: {S.RUNNING: S.RUNNING},
    OP.RESTART_SERVICE: {S.RUNNING: S.RUNNING},
    OP.SCALE_SERVICE: {S.RUNNING: S.RUNNING},
    CUSTOM: {S.RUNNING: S.RUNNING, S.STOPPED: S.STOPPED},
}
SUBMIT_CASES = [(op, state) for op in SUBMIT for state in InstanceState]


@pytest.mark.parametrize(("operation", "current"), SUBMIT_CASES)
def test_state_on_submit(operation: str, current: InstanceState) -> None:
    expected = SUBMIT[operation].get(current)
    if expected is None:
        with pytest.raises(errors.OperationNotAllowed) as raised:
            state_on_submit(operation, current, "MyCache")
        message = raised.value.message
        assert "[MyCache]" in message
        assert operation in message
        assert message.endswith(".")
        assert " ." not in message
    else:
        assert state_on_submit(operation, current, "MyCache") is expected


def test_refusal_says_which_states_would_do() -> None:
    with pytest.raises(errors.OperationNotAllowed) as raised:
        state_on_submit(OP.DELETE_SERVICE, S.CREATING, "MyCache")
    assert raised.value.message == (
        "Service [MyCache] is creating; DELETE_SERVICE needs it to be failed or running or stopped."
    )


def test_create_is_refused_on_any_existing_instance() -> None:
    with pytest.raises(errors.OperationNotAllowed) as raised:
        state_on_submit(OP.CREATE_SERVICE, S.RUNNING, "MyCache")
    assert raised.value.message == (
        "Service [MyCache] already exists; CREATE_SERVICE cannot apply to it."
    )


def test_refusal_is_a_conflict() -> None:
    with pytest.raises(errors.Conflict) as raised:
        state_on_submit(OP.START_SERVICE, S.RUNNING, "MyCache")
    assert raised.value.status_code == 409


# operation -> (state before the operation, on success, on failure)
END: dict[str, tuple[InstanceState, InstanceState, InstanceState]] = {
    OP.CREATE_SERVICE: (S.CREATING, S.RUNNING, S.FAILED),
    OP.DELETE_SERVICE: (S.STOPPED, S.DELETED, S.STOPPED),
    OP.START_SERVICE: (S.STOPPED, S.RUNNING, S.STOPPED),
    OP.STOP_SERVICE: (S.RUNNING, S.STOPPED, S.RUNNING),
    OP.RESTART_SERVICE: (S.RUNNING, S.RUNNING, S.RUNNING),
    OP.SCALE_SERVICE: (S.RUNNING, S.RUNNING, S.RUNNING),
    CUSTOM: (S.STOPPED, S.STOPPED, S.STOPPED),
}


@pytest.mark.parametrize("operation", list(END))
@pytest.mark.parametrize("status", [JobStatus.SUCCEED, JobStatus.WARN])
def test_state_on_end_after_success(operation: str, status: JobStatus) -> None:
    previous, on_success, _ = END[operation]
    assert state_on_end(operation, status, previous) is on_success


@pytest.mark.parametrize("operation", list(END))
def test_state_on_end_after_failure(operation: str) -> None:
    previous, _, on_failure = END[operation]
    assert state_on_end(operation, JobStatus.FAILED, previous) is on_failure


def test_failed_delete_leaves_a_failed_instance_failed() -> None:
    assert state_on_end(OP.DELETE_SERVICE, JobStatus.FAILED, S.FAILED) is S.FAILED


def test_unknown_operations_share_the_default_rule() -> None:
    assert rule_for("BACKUP") == rule_for("PATCH")
    assert rule_for("BACKUP").allowed_from == {S.RUNNING, S.STOPPED}


@pytest.mark.parametrize(
    ("state", "word"),
    [
        (S.CREATING, "In Progress"),
        (S.RUNNING, "Running"),
        (S.STOPPED, "Stopped"),
        (S.DELETING, "Terminating"),
        (S.DELETED, "Deleted"),
        (S.FAILED, "Failed"),
    ],
)
def test_oracle_status(state: InstanceState, word: str) -> None:
    assert oracle_status(state) == word


def test_every_state_has_an_oracle_status() -> None:
    assert all(oracle_status(state) for state in InstanceState)
