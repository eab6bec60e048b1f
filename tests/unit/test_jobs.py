"""domain.jobs: the job state machine."""

from __future__ import annotations

import itertools

import pytest

from activitylog.domain.jobs import (
    TERMINAL_STATUSES,
    InvalidTransition,
    JobStatus,
    can_transition,
    check_transition,
    is_terminal,
)

ALLOWED = {
    (JobStatus.NEW, JobStatus.RUNNING),  # claimed
    (JobStatus.NEW, JobStatus.FAILED),  # cancelled before it ran
    (JobStatus.RUNNING, JobStatus.SUCCEED),
    (JobStatus.RUNNING, JobStatus.FAILED),
    (JobStatus.RUNNING, JobStatus.WARN),
    (JobStatus.RUNNING, JobStatus.NEW),  # a retry after a lost attempt
}
ALL_PAIRS = list(itertools.product(JobStatus, repeat=2))


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_transitions(current: JobStatus, target: JobStatus) -> None:
    assert can_transition(current, target)
    check_transition(current, target)


@pytest.mark.parametrize(("current", "target"), [pair for pair in ALL_PAIRS if pair not in ALLOWED])
def test_refused_transitions(current: JobStatus, target: JobStatus) -> None:
    assert not can_transition(current, target)
    with pytest.raises(InvalidTransition, match=f"a {current} job cannot become {target}"):
        check_transition(current, target)


def test_terminal_statuses_are_the_three_ends() -> None:
    assert {JobStatus.SUCCEED, JobStatus.FAILED, JobStatus.WARN} == TERMINAL_STATUSES


@pytest.mark.parametrize("status", list(JobStatus))
def test_is_terminal_matches_the_terminal_set(status: JobStatus) -> None:
    assert is_terminal(status) is (status in TERMINAL_STATUSES)
    # The store hands back plain strings; they answer the same.
    assert is_terminal(str(status)) is (status in TERMINAL_STATUSES)


@pytest.mark.parametrize("status", sorted(TERMINAL_STATUSES))
def test_an_ended_job_never_changes_again(status: JobStatus) -> None:
    assert not any(can_transition(status, target) for target in JobStatus)


def test_unknown_status_text_is_not_terminal() -> None:
    assert not is_terminal("CANCELLED")
    assert not is_terminal("succeed")
