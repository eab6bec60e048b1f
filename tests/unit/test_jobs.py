"""domain.jobs: the job state machine."""

from __future__ import annotations

import itertools

import pytest

from activitylog.domain.jobs import (
    MAX_RETRY_DELAY_MS,
    TERMINAL_STATUSES,
    InvalidTransition,
    JobStatus,
    Rescue,
    can_transition,
    check_transition,
    closing_messages_when_cancelled,
    is_terminal,
    plan_rescue,
    retry_delay_ms,
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


# -- retries after a lost worker, and cancellation ---------------------------------------------


@pytest.mark.parametrize(
    ("backoff_ms", "failed_attempt", "delay"),
    [(0, 1, 0), (1000, 1, 1000), (1000, 2, 2000), (1000, 3, 4000), (1000, 40, MAX_RETRY_DELAY_MS)],
)
def test_the_retry_delay_doubles_up_to_a_cap(
    backoff_ms: int, failed_attempt: int, delay: int
) -> None:
    assert retry_delay_ms(backoff_ms, failed_attempt) == delay


def test_a_lost_attempt_is_retried_while_attempts_remain() -> None:
    assert plan_rescue(1, 3, 500, None) == Rescue(
        JobStatus.NEW, ("Worker lost (lease expired); retrying: attempt 2 of 3.",), 500
    )
    assert plan_rescue(2, 3, 500, None).delay_ms == 1000


def test_the_last_lost_attempt_fails_the_job() -> None:
    assert plan_rescue(3, 3, 500, None) == Rescue(
        JobStatus.FAILED, ("Worker lost (lease expired) on attempt 3 of 3; giving up.",)
    )


def test_a_lost_job_someone_cancelled_is_not_retried() -> None:
    assert plan_rescue(1, 3, 0, "joe") == Rescue(
        JobStatus.FAILED,
        ("Worker lost (lease expired) on attempt 1 of 3.", "Cancelled by joe."),
    )


def test_a_cancelled_jobs_closing_messages_say_who_cancelled_it_once() -> None:
    assert closing_messages_when_cancelled(["Stopped."], "joe") == ["Stopped.", "Cancelled by joe."]
    assert closing_messages_when_cancelled(["Cancelled by joe."], "joe") == ["Cancelled by joe."]
