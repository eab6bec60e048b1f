"""Waiting returns when the job ends, not at the poll after: the server's long-poll does the
waiting, and a poll that shows the job ended is the last one."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from activitylog.client import AsyncClient, Client
from tests.client.conftest import DOMAIN, PASSWORD, USER
from tests.e2e.conftest import RunningServer

# The default interval: long enough that a wait paced by it would show, a whole tick late.
INTERVAL = 1.0
# From the job's end (the server's clock; same machine) to wait()'s return. Loopback answers
# in milliseconds; the margin is for a busy shared machine.
PROMPT = dt.timedelta(seconds=0.25)


def default_client(server: RunningServer) -> Client:
    return Client(
        server.url, user=USER, password=PASSWORD, identity_domain=DOMAIN, poll_interval=INTERVAL
    )


def test_wait_returns_as_the_job_ends(server: RunningServer) -> None:
    with default_client(server) as client:
        submission = client.create("caching", "Waited")
        job = client.wait(submission.job_id, timeout=30)
        returned = dt.datetime.now(dt.UTC)
    assert job.end_date is not None
    assert returned - job.end_date < PROMPT


def test_waiting_on_an_ended_job_asks_once(server: RunningServer) -> None:
    with default_client(server) as client:
        submission = client.create("caching", "Ended")
        client.wait(submission.job_id, timeout=30)
        started = time.monotonic()
        job = client.wait(submission.job_id, timeout=30)
        assert time.monotonic() - started < PROMPT.total_seconds()
        assert list(client.watch(submission.job_id, timeout=30))[-1].job == job


@pytest.mark.anyio
async def test_async_wait_returns_as_the_job_ends(server: RunningServer) -> None:
    async with AsyncClient(
        server.url, user=USER, password=PASSWORD, identity_domain=DOMAIN, poll_interval=INTERVAL
    ) as client:
        submission = await client.create("caching", "AsyncWaited")
        job = await client.wait(submission.job_id, timeout=30)
        returned = dt.datetime.now(dt.UTC)
        started = time.monotonic()
        await client.wait(submission.job_id, timeout=30)
        again = time.monotonic() - started
    assert job.end_date is not None
    assert returned - job.end_date < PROMPT
    assert again < PROMPT.total_seconds()
