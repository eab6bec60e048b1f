"""Personal API tokens: stored by their secret's hash, listed, revoked, gone with their user;
the credentials version moves with every change that must reach other processes."""

from __future__ import annotations

import pytest

from activitylog import errors
from activitylog.domain import audit
from activitylog.domain.audit import AuditQuery
from activitylog.domain.dates import now_ms
from activitylog.store.base import Store
from activitylog.store.records import Actor, Domain, NewToken
from tests.contract.conftest import OpenStore

pytestmark = pytest.mark.anyio

ADMIN = Actor("root@example.com", "192.0.2.1")
DAY_MS = 86_400_000


@pytest.fixture
async def users(store: Store, domain: Domain) -> Domain:
    await store.create_user(domain.name, "joe@example.com", "hash", "operator")
    await store.create_user(domain.name, "ann@example.com", "hash", "viewer")
    return domain


def new_token(
    domain: Domain,
    user: str = "joe@example.com",
    name: str = "ci",
    *,
    role: str = "viewer",
    secret_hash: str | None = None,
) -> NewToken:
    secret_hash = secret_hash or f"hash-of-{user}-{name}"
    return NewToken(domain.domain_id, user, name, role, secret_hash, now_ms() + DAY_MS)


async def test_a_token_is_created_listed_and_found_by_its_hash(store: Store, users: Domain) -> None:
    created = await store.create_token(new_token(users, role="operator"), ADMIN)
    assert created.user_name == "joe@example.com"
    assert (created.name, created.role, created.created_by) == ("ci", "operator", ADMIN.name)
    assert created.last_used_at is None
    assert await store.list_tokens(users.domain_id) == [created]
    grant = await store.find_token("hash-of-joe@example.com-ci")
    assert grant is not None
    assert (grant.token_id, grant.user_name, grant.domain_name) == (
        created.token_id,
        "joe@example.com",
        users.name,
    )
    assert (grant.token_role, grant.user_role) == ("operator", "operator")
    assert await store.find_token("no-such-hash") is None


async def test_tokens_list_by_user(store: Store, users: Domain) -> None:
    joes = await store.create_token(new_token(users), ADMIN)
    anns = await store.create_token(new_token(users, "ann@example.com"), ADMIN)
    assert await store.list_tokens(users.domain_id) == [joes, anns]
    assert await store.list_tokens(users.domain_id, anns.user_id) == [anns]
    other = await store.create_domain("OtherDomain")
    assert await store.list_tokens(other.domain_id) == []


async def test_a_token_name_is_unique_per_user(store: Store, users: Domain) -> None:
    await store.create_token(new_token(users), ADMIN)
    with pytest.raises(errors.Conflict, match="already has an API token of that name"):
        await store.create_token(new_token(users, secret_hash="another"), ADMIN)
    await store.create_token(new_token(users, "ann@example.com"), ADMIN)


async def test_a_token_for_an_unknown_user_is_refused(store: Store, users: Domain) -> None:
    with pytest.raises(errors.NotFound):
        await store.create_token(new_token(users, "nobody@example.com"), ADMIN)


async def test_revoking_deletes_the_token_and_moves_the_version(
    store: Store, users: Domain
) -> None:
    token = await store.create_token(new_token(users), ADMIN)
    before = await store.credentials_version()
    assert await store.revoke_token(users.domain_id, token.token_id, ADMIN) == token
    assert await store.find_token("hash-of-joe@example.com-ci") is None
    assert await store.list_tokens(users.domain_id) == []
    assert await store.credentials_version() > before
    with pytest.raises(errors.NotFound):
        await store.revoke_token(users.domain_id, token.token_id, ADMIN)


async def test_only_the_owner_revokes_when_an_owner_is_given(store: Store, users: Domain) -> None:
    token = await store.create_token(new_token(users), ADMIN)
    anns = await store.list_users(users.name)
    ann_id = next(user.user_id for user in anns if user.name == "ann@example.com")
    with pytest.raises(errors.NotFound):
        await store.revoke_token(users.domain_id, token.token_id, ADMIN, owner_id=ann_id)
    await store.revoke_token(users.domain_id, token.token_id, ADMIN, owner_id=token.user_id)


async def test_a_token_of_another_domain_is_not_found(store: Store, users: Domain) -> None:
    token = await store.create_token(new_token(users), ADMIN)
    other = await store.create_domain("OtherDomain")
    with pytest.raises(errors.NotFound):
        await store.revoke_token(other.domain_id, token.token_id, ADMIN)
    assert await store.find_token("hash-of-joe@example.com-ci") is not None


async def test_deleting_the_user_deletes_its_tokens_and_moves_the_version(
    store: Store, users: Domain
) -> None:
    await store.create_token(new_token(users), ADMIN)
    before = await store.credentials_version()
    await store.delete_user(users.name, "joe@example.com")
    assert await store.find_token("hash-of-joe@example.com-ci") is None
    assert await store.credentials_version() > before


async def test_a_role_change_moves_the_version_and_caps_the_grant(
    store: Store, users: Domain
) -> None:
    await store.create_token(new_token(users, role="operator"), ADMIN)
    before = await store.credentials_version()
    await store.update_user(users.name, "joe@example.com", role="viewer")
    assert await store.credentials_version() > before
    grant = await store.find_token("hash-of-joe@example.com-ci")
    assert grant is not None
    assert (grant.token_role, grant.user_role) == ("operator", "viewer")


async def test_token_use_is_recorded_and_never_moves_back(store: Store, users: Domain) -> None:
    token = await store.create_token(new_token(users), ADMIN)
    await store.record_token_use([token.token_id])
    [used] = await store.list_tokens(users.domain_id)
    assert used.last_used_at is not None
    assert used.last_used_at >= token.created_at


async def test_another_store_sees_the_version_move(
    store: Store, users: Domain, open_another_store: OpenStore
) -> None:
    other = await open_another_store()
    token = await store.create_token(new_token(users), ADMIN)
    before = await other.credentials_version()
    await store.revoke_token(users.domain_id, token.token_id, ADMIN)
    assert await other.credentials_version() > before
    assert await other.find_token("hash-of-joe@example.com-ci") is None


async def test_creating_and_revoking_are_audited_with_them(store: Store, users: Domain) -> None:
    token = await store.create_token(new_token(users), ADMIN)
    await store.revoke_token(users.domain_id, token.token_id, ADMIN)
    events, total = await store.search_audit_events(users.domain_id, AuditQuery())
    assert total == 2
    assert [e.kind for e in events] == [audit.TOKEN_REVOKED, audit.TOKEN_CREATED]
    assert {(e.actor, e.address, e.subject) for e in events} == {
        (ADMIN.name, ADMIN.address, "joe@example.com")
    }
    assert events[1].details == {"tokenId": token.token_id, "name": "ci", "role": "viewer"}
