"""Job states and the transitions between them, as pure functions."""

from __future__ import annotations

import dataclasses
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


@dataclasses.dataclass(frozen=True, slots=True)
class WarnReporting:
    """Which jobs that ended WARN are reported ``SUCCEED`` on the wire.

    WARN is PSM's own status, but the Go client behind Terraform's Oracle PaaS provider knows
    only NEW, RUNNING, SUCCEED and FAILED, and polls on anything else until its timeout. An
    operator whose clients wait like that switches this on, for the whole server or for some
    service types; the job's messages still carry its warnings, and the store keeps WARN.
    """

    everywhere: bool = False
    service_types: frozenset[str] = frozenset()

    def status(self, service_type: str, status: str) -> str:
        """The status the wire shows for a job of ``service_type`` whose status is ``status``."""
        if status == JobStatus.WARN and (self.everywhere or service_type in self.service_types):
            return JobStatus.SUCCEED
        return status


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
RELEASED_MESSAGE = "Worker shutting down; job released for retry."


def storable_message(text: str) -> str:
    """The message as both stores keep it: PostgreSQL text cannot hold NUL, so U+FFFD (the
    replacement character) stands in for it, on SQLite too, and a job reads the same on both."""
    return text.replace("\x00", "\ufffd")


# The wait before attempt n+1 is backoff * 2^(n-1), but never longer than this.
MAX_RETRY_DELAY_MS = 3_600_000


def retry_delay_ms(backoff_ms: int, failed_attempt: int) -> int:
    """How long a job waits after losing attempt ``failed_attempt`` (1 for the first)."""
    if backoff_ms <= 0:
        return 0
    return min(backoff_ms * (1 << min(failed_attempt - 1, 32)), MAX_RETRY_DELAY_MS)


def lost_worker_message(attempt: int, max_attempts: int) -> str:
    """What a job's log says when its worker's lease expired on ``attempt``."""
    if attempt < max_attempts:
        return f"Worker lost (lease expired); retrying: attempt {attempt + 1} of {max_attempts}."
    return f"Worker lost (lease expired) on attempt {attempt} of {max_attempts}; giving up."


def cancelled_message(requested_by: str) -> str:
    return f"Cancelled by {requested_by}."


def cancel_requested_message(requested_by: str) -> str:
    return f"Cancellation requested by {requested_by}."


def closing_messages_when_cancelled(messages: list[str], requested_by: str) -> list[str]:
    """A cancelled job's closing messages: what the worker had to say, then who cancelled it."""
    cancelled = cancelled_message(requested_by)
    return messages if cancelled in messages else [*messages, cancelled]


IDEMPOTENCY_WINDOW_MS = 24 * 3_600_000
"""How long an Idempotency-Key keeps answering with the job it first created."""


@dataclasses.dataclass(frozen=True, slots=True)
class Rescue:
    """What becomes of a RUNNING job whose worker's lease expired."""

    status: JobStatus
    """NEW (a retry, after ``delay_ms``) or FAILED."""
    messages: tuple[str, ...]
    delay_ms: int = 0


def plan_rescue(
    attempt: int, max_attempts: int, backoff_ms: int, cancel_requested_by: str | None
) -> Rescue:
    """Only a lost worker is retried, and only while attempts remain: an operation is not
    assumed idempotent, so a handler's own failure ends the job at once, elsewhere."""
    if cancel_requested_by is not None:
        lost = f"Worker lost (lease expired) on attempt {attempt} of {max_attempts}."
        return Rescue(JobStatus.FAILED, (lost, cancelled_message(cancel_requested_by)))
    message = lost_worker_message(attempt, max_attempts)
    if attempt < max_attempts:
        return Rescue(JobStatus.NEW, (message,), retry_delay_ms(backoff_ms, attempt))
    return Rescue(JobStatus.FAILED, (message,))
