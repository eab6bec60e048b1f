"""Job states and the transitions between them, as pure functions."""

from __future__ import annotations

import enum


class JobStatus(enum.StrEnum):
    NEW = "NEW"
    RUNNING = "RUNNING"
    SUCCEED = "SUCCEED"
    FAILED = "FAILED"
    WARN = "WARN"


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEED, JobStatus.FAILED, JobStatus.WARN})

# RUNNING -> NEW is a retry: the attempt was lost and the job waits to be claimed again.
_ALLOWED_TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.NEW: frozenset({JobStatus.RUNNING, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.SUCCEED, JobStatus.FAILED, JobStatus.WARN, JobStatus.NEW}
    ),
    JobStatus.SUCCEED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.WARN: frozenset(),
}


class InvalidTransition(ValueError):
    """A job cannot move from its current status to the requested one."""


def is_terminal(status: str) -> bool:
    return status in TERMINAL_STATUSES


def can_transition(current: JobStatus, target: JobStatus) -> bool:
    return target in _ALLOWED_TRANSITIONS[current]


def check_transition(current: JobStatus, target: JobStatus) -> None:
    if not can_transition(current, target):
        raise InvalidTransition(f"a {current} job cannot become {target}")


SUBMITTED_MESSAGE = "Activity Submitted"
STARTED_MESSAGE = "Activity Started"
ENDED_MESSAGE = "Activity Ended"
