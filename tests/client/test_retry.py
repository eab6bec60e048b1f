"""429 and 503 are retried as Retry-After asks, a bounded number of times.

The real server cannot be made to answer 503 on demand, so these tests, and only these, answer
through httpx.MockTransport.
"""

from __future__ import annotations

import datetime as dt
import time

import httpx
import pytest

from activitylog.client import (
    AsyncClient,
    Client,
    RetryPolicy,
    ServiceUnavailable,
    TooManyRequests,
)
from activitylog.client._retry import parse_retry_after

DOMAIN = "ExampleIdentityDomain"
JOB_BODY = (
    b'{"activityLogId":1,"serviceName":"MyCache","serviceType":"caching",'
    b'"identityDomain":"ExampleIdentityDomain","serviceId":1,"jobId":1,'
    b'"startDate":"2017-04-12T16:01:28.238+0000","status":"RUNNING","operationId":1,'
    b'"operationType":"CREATE_SERVICE","summaryMessage":"CREATE_SERVICE",'
    b'"authDomain":"ExampleIdentityDomain","authUser":"joe@example.com","initiatedBy":"USER",'
    b'"messages":[{"activityDate":"2017-04-12T16:01:28.238+0000","message":"Activity Submitted"}]}'
)
UNAVAILABLE = b'{"status":"503","details":{"message":"The database is unavailable right now."}}'


class Script:
    """Answers with each response in turn, then repeats the last; records the requests."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.responses[min(len(self.requests), len(self.responses)) - 1]


def unavailable(retry_after: str | None = "1") -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return httpx.Response(503, content=UNAVAILABLE, headers=headers)


def make_client(script: Script, retry: RetryPolicy | None = None) -> Client:
    return Client(
        "http://activitylog.test",
        user="joe@example.com",
        password="joePassword",
        identity_domain=DOMAIN,
        retry=retry,
        transport=httpx.MockTransport(script),
    )


def test_503_is_retried_after_the_seconds_retry_after_asks() -> None:
    script = Script(unavailable("1"), httpx.Response(200, content=JOB_BODY))
    started = time.monotonic()
    with make_client(script) as client:
        job = client.get_job(1)
    assert time.monotonic() - started >= 0.95
    assert job.status == "RUNNING"
    assert len(script.requests) == 2
    assert script.requests[0].headers["X-ID-TENANT-NAME"] == DOMAIN
    assert script.requests[0].headers["Authorization"].startswith("Basic ")


def test_retries_are_bounded() -> None:
    script = Script(httpx.Response(429, headers={"Retry-After": "0"}))
    policy = RetryPolicy(max_retries=2)
    with make_client(script, policy) as client, pytest.raises(TooManyRequests) as caught:
        client.get_job(1)
    assert caught.value.status_code == 429
    assert len(script.requests) == 3


def test_a_submission_is_retried_too() -> None:
    accepted = httpx.Response(202, content=b'{"details":{"message":"Submitted job.","jobId":"9"}}')
    script = Script(unavailable("0"), accepted)
    with make_client(script) as client:
        submission = client.create("caching", "MyCache")
    assert submission.job_id == 9
    assert (
        submission.location == f"http://activitylog.test/paas/api/v1.1/activitylog/{DOMAIN}/job/9"
    )
    assert [r.content for r in script.requests] == [script.requests[0].content] * 2


def test_without_retry_after_the_default_delay_doubles_up_to_the_cap() -> None:
    script = Script(unavailable(None))
    policy = RetryPolicy(max_retries=3, default_delay=0.01, max_delay=0.02)
    with make_client(script, policy) as client, pytest.raises(ServiceUnavailable) as caught:
        client.get_job(1)
    assert caught.value.message == "The database is unavailable right now."
    assert len(script.requests) == 4
    assert [policy.delay(None, attempt) for attempt in range(3)] == [0.01, 0.02, 0.02]


@pytest.mark.anyio
async def test_async_client_retries_too() -> None:
    script = Script(unavailable("0"), unavailable("0"), httpx.Response(200, content=JOB_BODY))
    async with AsyncClient(
        "http://activitylog.test",
        user="joe@example.com",
        password="joePassword",
        identity_domain=DOMAIN,
        transport=httpx.MockTransport(script),
    ) as client:
        job = await client.get_job(1)
    assert job.job_id == 1
    assert len(script.requests) == 3


def test_parse_retry_after() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after(" 1.5 ", now) == 1.5
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) is None
    assert parse_retry_after("inf", now) is None
    assert RetryPolicy(max_delay=30).delay("99999", attempt=0) == 30
