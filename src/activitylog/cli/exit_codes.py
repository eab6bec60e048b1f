"""The exit codes of the client commands: scripts tell a job's outcome apart by them."""

from __future__ import annotations

from activitylog.client import Job

EXIT_SUCCEED = 0  # the job ended SUCCEED (or, without --wait, the request was accepted)
EXIT_ERROR = 1  # the request failed: refused by the server, or no answer from it
EXIT_USAGE = 2  # bad flags or arguments, missing credentials (click's own code for usage errors)
EXIT_FAILED = 3  # the job ended FAILED
EXIT_WARN = 4  # the job ended WARN: it finished, with warnings
EXIT_TIMEOUT = 5  # --timeout ran out before the job ended
EXIT_PENDING = 6  # `status` without --wait: the job has not ended yet (NEW or RUNNING)

_BY_STATUS = {"SUCCEED": EXIT_SUCCEED, "FAILED": EXIT_FAILED, "WARN": EXIT_WARN}


def exit_code_for_status(status: str) -> int:
    """The exit code that reports a job in ``status``: its outcome, or EXIT_PENDING."""
    return _BY_STATUS.get(status, EXIT_PENDING)


def exit_code_for_job(job: Job) -> int:
    return exit_code_for_status(job.status)
