"""The AsyncClient and AsyncPoller against a real server: the same contract as the sync client."""

from __future__ import annotations

import anyio
import pytest

from activitylog.client import (
    AsyncClient,
    AsyncPoller,
    Conflict,
    NotFound,
    TransportError,
    Unauthorized,
    WaitTimeout,
)
from tests.client.conftest import DOMAIN, PASSWORD, POLL_INTERVAL, USER
from tests.e2e.conftest import RunningServer, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


async def test_create_get_and_wait(async_client: AsyncClient) -> None:
    submission = await async_client.create("caching", "AsyncCache", size="3")
    job = await async_client.get_job(submission.job_id)
    assert (job.service_name, job.operation_type) == ("AsyncCache", "CREATE_SERVICE")
    ended = await async_client.wait(submission.job_id, timeout=30)
    assert ended.status == "SUCCEED"
    assert any("instance(3G)" in message.text for message in ended.messages)


async def test_follow_yields_every_message_once_in_order(async_client: AsyncClient) -> None:
    submission = await async_client.create("caching", "AsyncFollowed")
    followed = [
        message
        async for message in async_client.follow(submission.job_id, timeout=30, poll_interval=0.01)
    ]
    ended = await async_client.get_job(submission.job_id)
    assert ended.status == "SUCCEED"
    assert followed == list(ended.messages)
    assert [m.text for m in followed][-1] == "Activity Ended"


async def test_two_jobs_followed_at_once(async_client: AsyncClient) -> None:
    first = await async_client.create("caching", "Left")
    second = await async_client.create("caching", "Right")
    followed: dict[int, list[str]] = {}

    async def follow(job_id: int) -> None:
        followed[job_id] = [m.text async for m in async_client.follow(job_id, timeout=30)]

    async with anyio.create_task_group() as group:
        group.start_soon(follow, first.job_id)
        group.start_soon(follow, second.job_id)
    for job_id in (first.job_id, second.job_id):
        ended = await async_client.get_job(job_id)
        assert followed[job_id] == [m.text for m in ended.messages]


async def test_activities_pages_through_every_match(async_client: AsyncClient) -> None:
    submitted = [(await async_client.create("caching", f"Paged{n}")).job_id for n in range(3)]
    for job_id in submitted:
        await async_client.wait(job_id, timeout=30)
    walked = [
        job.job_id async for job in async_client.activities(page_size=2, order_by="jobId:asc")
    ]
    assert walked == submitted
    page = await async_client.activity_page(limit=2, offset=2, order_by="jobId:asc")
    assert (page.total_count, [j.job_id for j in page.jobs], page.has_more) == (
        3,
        submitted[2:],
        False,
    )


async def test_poller_rebuilt_from_the_job_url_alone(async_client: AsyncClient) -> None:
    submission = await async_client.create("caching", "AsyncRestarted")
    async with AsyncPoller.from_url(
        submission.location, user=USER, password=PASSWORD, poll_interval=POLL_INTERVAL
    ) as poller:
        assert poller.job_id == submission.job_id
        messages = [message.text async for message in poller.follow(timeout=30)]
        assert poller.job is not None
        assert poller.job.status == "SUCCEED"
        assert (await poller.wait()).status == "SUCCEED"
    assert messages[-1] == "Activity Ended"
    rebuilt = async_client.job_from_url(submission.location)
    assert (await rebuilt.poll()).status == "SUCCEED"


async def test_error_mapping(async_client: AsyncClient, server: RunningServer) -> None:
    with pytest.raises(NotFound):
        await async_client.get_job(777)
    await async_client.create("caching", "AsyncBusy")
    with pytest.raises(Conflict):
        await async_client.delete("caching", "AsyncBusy")
    async with AsyncClient(
        server.url, user=USER, password="not-the-password", identity_domain=DOMAIN
    ) as intruder:
        with pytest.raises(Unauthorized):
            await intruder.get_job(1)


async def test_wait_timeout(async_client: AsyncClient) -> None:
    submission = await async_client.create("caching", "AsyncSlow")
    with pytest.raises(WaitTimeout) as caught:
        await async_client.wait(submission.job_id, timeout=0.05)
    assert caught.value.job is not None


async def test_transport_errors_are_chained() -> None:
    async with AsyncClient(
        f"http://127.0.0.1:{free_port()}", user=USER, password=PASSWORD, identity_domain=DOMAIN
    ) as nowhere:
        with pytest.raises(TransportError) as caught:
            await nowhere.get_job(1)
    assert caught.value.__cause__ is not None
