"""Group commit on PostgreSQL: the engine's hottest writes, several in one statement
(store.batching), above the driver.

Ends of jobs that a worker has ready at one moment go in one statement, and so do creates that
an API process receives together. Each still stands alone in what it means: an end is fenced by
its own lease token, a create names its own instance. Whatever a shared statement cannot do
for one of them (an end whose job someone asked to cancel, or whose lease was lost; a create
whose name is taken) is answered None or False, and its caller does it alone, the long way,
which says why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import asyncpg

from activitylog import errors
from activitylog.domain import instances
from activitylog.domain.dates import now_ms
from activitylog.domain.jobs import ENDED_MESSAGE, SUBMITTED_MESSAGE, JobStatus, storable_message
from activitylog.store.postgres_driver import fetch
from activitylog.store.records import ClaimedJob, OperationRequest, SubmittedJob
from activitylog.store.transactions import instance_exists

LIVE_INSTANCE_NAME = "service_instances_live_name"
"""The unique index that keeps one live instance per name."""

# Writes per statement: a busy process's writes go in a few statements, each still short.
MAX_TOGETHER = 64

Connect = Callable[[], contextlib.AbstractAsyncContextManager[Any]]


# -- ends ------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class JobEnd:
    job: ClaimedJob
    status: JobStatus
    closing: list[str]
    """The job's last messages, "Activity Ended" included, as stored."""
    instance_state: str | None
    """The instance's state after the end; None keeps the one it had before the operation."""


def job_end(job: ClaimedJob, status: JobStatus, messages: list[str]) -> JobEnd | None:
    """The end as end_jobs_together writes it; None for a scale that did not fail, whose
    parameters must be merged into its instance's (transactions.finish does)."""
    scaled = job.operation_type == instances.OperationType.SCALE_SERVICE
    if scaled and status is not JobStatus.FAILED:
        return None
    closing = [storable_message(text) for text in [*messages, ENDED_MESSAGE]]
    return JobEnd(job, status, closing, instances.new_state_on_end(job.operation_type, status))


async def end_jobs_together(connect: Connect, ends: list[JobEnd]) -> list[bool]:
    """Which of ``ends`` were written; the others take the long way."""
    try:
        async with connect() as c:
            rows = await fetch(c, "end_jobs_at_once", "rows", _end_arguments(ends))
    except errors.ActivityLogError:
        if len(ends) == 1:
            raise
        # Each takes the long way: one end the database refuses cannot hold back the others.
        return [False] * len(ends)
    ended = {row[0] for row in rows}
    return [end.job.job_id in ended for end in ends]


def _end_arguments(ends: list[JobEnd]) -> dict[str, Any]:
    message_jobs, places, texts = [], [], []
    for end in ends:
        for place, text in enumerate(end.closing, start=1):
            message_jobs.append(end.job.job_id)
            places.append(place)
            texts.append(text)
    return {
        "job_ids": [end.job.job_id for end in ends],
        "tokens": [end.job.lease_token for end in ends],
        "statuses": [str(end.status) for end in ends],
        "counts": [len(end.closing) for end in ends],
        "instance_states": [end.instance_state for end in ends],
        "message_jobs": message_jobs,
        "message_places": places,
        "messages": texts,
        "now": now_ms(),
    }


# -- creates ---------------------------------------------------------------------------------


def goes_together(request: OperationRequest) -> bool:
    """Whether submit_creates_together takes the request: a create without an Idempotency-Key,
    the common case, which has no earlier row to read first."""
    return (
        request.operation_type == instances.OperationType.CREATE_SERVICE
        and request.idempotency is None
    )


async def submit_creates_together(
    connect: Connect, requests: list[OperationRequest]
) -> list[SubmittedJob | None]:
    """Creates that go together (goes_together), in one statement; None for each when it
    failed, for each caller to submit alone (submit_create_alone)."""
    if len(requests) == 1:
        return [await submit_create_alone(connect, requests[0])]
    try:
        async with connect() as c:
            rows = await fetch(c, "submit_creates_at_once", "rows", _create_arguments(requests))
    except errors.ActivityLogError:
        # A name taken (or twice in the batch), the database away: each says so alone.
        return [None] * len(requests)
    by_place = {place: SubmittedJob(*ids) for place, *ids in rows}
    return [by_place.get(place) for place in range(1, len(requests) + 1)]


async def submit_create_alone(connect: Connect, request: OperationRequest) -> SubmittedJob:
    """One create that goes together, in a statement of its own; a live instance of that name
    already there refuses it, by name."""
    async with connect() as c:
        try:
            rows = await fetch(c, "submit_creates_at_once", "rows", _create_arguments([request]))
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name != LIVE_INSTANCE_NAME:
                raise
            raise instance_exists(request) from None
    _, job_id, log_id, service_id = rows[0]
    return SubmittedJob(job_id, log_id, service_id)


def _create_arguments(requests: list[OperationRequest]) -> dict[str, Any]:
    return {
        "domain_ids": [r.domain_id for r in requests],
        "identity_domains": [r.identity_domain for r in requests],
        "service_types": [r.service_type for r in requests],
        "service_names": [r.service_name for r in requests],
        "descriptions": [r.description for r in requests],
        "parameters": [json.dumps(r.parameters) for r in requests],
        "operation_types": [r.operation_type for r in requests],
        "auth_domains": [r.auth_domain for r in requests],
        "auth_users": [r.auth_user for r in requests],
        "initiated_by": [r.initiated_by for r in requests],
        "max_attempts": [r.max_attempts for r in requests],
        "backoffs_ms": [r.backoff_ms for r in requests],
        "state": instances.InstanceState.CREATING,
        "now": now_ms(),
        "message": SUBMITTED_MESSAGE,
    }
