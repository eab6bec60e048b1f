"""A Python client for activitylog servers (and Oracle PSM's activity log): submit operations,
wait for their jobs, follow their messages live, and search the activity log.

    with Client(url, user=..., password=..., identity_domain=...) as client:  # or token=...
        submission = client.create("caching", "MyCache", size="2")
        for message in client.follow(submission.job_id):
            print(message.date, message.text)
"""

from __future__ import annotations

from activitylog.client._api import ActivityFilters
from activitylog.client._async import AsyncClient, AsyncPoller
from activitylog.client._errors import (
    ApiError,
    BadRequest,
    ClientError,
    Conflict,
    Forbidden,
    InvalidJobUrl,
    NotFound,
    ServerError,
    ServiceUnavailable,
    TooManyRequests,
    TransportError,
    Unauthorized,
    UnexpectedResponse,
    WaitTimeout,
)
from activitylog.client._models import (
    FINAL_STATUSES,
    ActivityMessage,
    ActivityPage,
    ApiToken,
    Instance,
    Job,
    JobUpdate,
    Submission,
    User,
)
from activitylog.client._retry import RetryPolicy
from activitylog.client._sync import Client, Poller
from activitylog.client._wire import job_to_wire, split_job_url

__all__ = [
    "FINAL_STATUSES",
    "ActivityFilters",
    "ActivityMessage",
    "ActivityPage",
    "ApiError",
    "ApiToken",
    "AsyncClient",
    "AsyncPoller",
    "BadRequest",
    "Client",
    "ClientError",
    "Conflict",
    "Forbidden",
    "Instance",
    "InvalidJobUrl",
    "Job",
    "JobUpdate",
    "NotFound",
    "Poller",
    "RetryPolicy",
    "ServerError",
    "ServiceUnavailable",
    "Submission",
    "TooManyRequests",
    "TransportError",
    "Unauthorized",
    "UnexpectedResponse",
    "User",
    "WaitTimeout",
    "job_to_wire",
    "split_job_url",
]
