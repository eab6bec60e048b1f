"""Cancel, instances and users through the SDK, sync and async, against a real server."""

from __future__ import annotations

import pytest

from activitylog.client import AsyncClient, Client, Conflict, Instance, NotFound, User
from tests.client.conftest import DOMAIN, USER

pytestmark = pytest.mark.e2e


def test_cancel_a_job_and_it_ends_failed(client: Client) -> None:
    submission = client.create("caching", "Cancelled")
    cancelled = client.cancel(submission.job_id)
    assert cancelled.job_id == submission.job_id
    ended = client.wait(submission.job_id, timeout=30)
    assert ended.status == "FAILED"
    assert any(f"Cancellation requested by {USER}" in m.text for m in ended.messages)
    with pytest.raises(Conflict):
        client.cancel(submission.job_id)
    with pytest.raises(NotFound):
        client.cancel(999_999)


def test_list_and_view_instances(client: Client) -> None:
    assert client.instances("caching") == []
    client.wait(client.create("caching", "Listed", size="2").job_id, timeout=30)
    (listed,) = client.instances("caching")
    assert isinstance(listed, Instance)
    assert (listed.service_name, listed.service_type) == ("Listed", "caching")
    assert listed.state
    assert listed.status
    assert listed.identity_domain == DOMAIN
    assert listed.creator == USER
    assert listed.service_parameters["size"] == "2"
    assert listed.creation_date is not None
    assert listed.creation_date.tzinfo is not None
    assert client.instance("caching", "Listed") == listed
    with pytest.raises(NotFound):
        client.instance("caching", "Missing")


def test_add_list_set_role_and_remove_users(client: Client) -> None:
    assert client.users() == [User(USER, "admin")]
    assert client.add_user("ann@example.com", "annPassword") == User("ann@example.com", "viewer")
    with pytest.raises(Conflict, match="exists already"):
        client.add_user("ann@example.com", "otherPassword", role="admin")
    assert client.set_user_role("ann@example.com", "operator") == User(
        "ann@example.com", "operator"
    )
    with pytest.raises(NotFound, match=r"No user \[bob@example.com\]"):
        client.set_user_role("bob@example.com", "operator")
    assert client.users() == [User("ann@example.com", "operator"), User(USER, "admin")]
    client.remove_user("ann@example.com")
    assert client.users() == [User(USER, "admin")]
    with pytest.raises(NotFound):
        client.remove_user("ann@example.com")


@pytest.mark.anyio
async def test_the_async_client_does_the_same(async_client: AsyncClient) -> None:
    submission = await async_client.create("caching", "AsyncCancelled")
    assert (await async_client.cancel(submission.job_id)).job_id == submission.job_id
    assert (await async_client.wait(submission.job_id, timeout=30)).status == "FAILED"

    await async_client.wait((await async_client.create("caching", "AsyncListed")).job_id)
    instances = await async_client.instances("caching")
    (listed,) = [i for i in instances if i.service_name == "AsyncListed"]
    assert await async_client.instance("caching", "AsyncListed") == listed

    added = await async_client.add_user("ann@example.com", "annPassword", role="operator")
    assert added == User("ann@example.com", "operator")
    assert await async_client.set_user_role("ann@example.com", "admin") == User(
        "ann@example.com", "admin"
    )
    assert User("ann@example.com", "admin") in await async_client.users()
    await async_client.remove_user("ann@example.com")
    assert await async_client.users() == [User(USER, "admin")]
