"""The SDK's API tokens against a real server: create, sign in with one, list, revoke."""

from __future__ import annotations

import datetime as dt

import pytest

from activitylog.client import AsyncClient, Client, Forbidden, Unauthorized
from tests.client.conftest import DOMAIN
from tests.e2e.conftest import RunningServer

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


def test_a_token_made_by_the_sdk_drives_a_client_of_its_own(
    server: RunningServer, client: Client
) -> None:
    created = client.create_token("sdk", role="operator", expires_in_days=2)
    assert created.secret is not None
    assert (created.name, created.role) == ("sdk", "operator")
    assert dt.timedelta(days=1) < created.expires_at - created.created_at <= dt.timedelta(days=2)

    with Client(server.url, token=created.secret, identity_domain=DOMAIN) as automation:
        submission = automation.create("caching", "SdkToken", size="1")
        assert automation.wait(submission.job_id, timeout=30).status == "SUCCEED"
        with pytest.raises(Forbidden):
            automation.create_token("child")  # a token cannot make more tokens
        [listed] = automation.tokens()
        assert listed.token_id == created.token_id
        assert listed.secret is None
        assert listed.last_used_at is not None

        client.revoke_token(created.token_id)
        with pytest.raises(Unauthorized):
            automation.tokens()
    assert client.tokens() == []


def test_the_client_wants_either_a_token_or_a_password(server: RunningServer) -> None:
    with pytest.raises(ValueError, match="a user and a password, or a token"):
        Client(server.url, user="joe@example.com", identity_domain=DOMAIN)
    with pytest.raises(ValueError, match="not both"):
        Client(server.url, user="u", password="p", token="t", identity_domain=DOMAIN)


async def test_the_async_client_manages_tokens(
    server: RunningServer, async_client: AsyncClient
) -> None:
    created = await async_client.create_token("async", role="viewer")
    assert created.secret is not None
    async with AsyncClient(server.url, token=created.secret, identity_domain=DOMAIN) as viewer:
        assert (await viewer.activity_page(limit=1)).total_count >= 0
        with pytest.raises(Forbidden):
            await viewer.create("caching", "ViewerCannot")
    assert [t.name for t in await async_client.tokens()] == ["async"]
    await async_client.revoke_token(created.token_id)
    assert await async_client.tokens() == []
