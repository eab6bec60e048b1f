"""Idempotent submission, as both stores answer it: a repeat gets the first request's job."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activitylog import errors
from activitylog.store.records import IdempotencyKey, SubmittedJob


def earlier_submission(row: Sequence[Any] | None, idempotency: IdempotencyKey) -> SubmittedJob:
    """The job an Idempotency-Key's first request created, if this request is the same one."""
    if row is None:  # only while that first request's transaction has not committed
        raise errors.StoreUnavailable(
            "The first request with this Idempotency-Key is still in progress; retry shortly."
        )
    fingerprint, job_id, activity_log_id, service_id = row
    if fingerprint != idempotency.fingerprint:
        raise errors.IdempotencyKeyReused()
    return SubmittedJob(job_id, activity_log_id, service_id, replayed=True)
