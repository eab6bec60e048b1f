"""Identity domains and users."""

from __future__ import annotations

import asyncio

import pytest

from activitylog import errors
from activitylog.store.base import Store
from activitylog.store.records import Domain
from tests.contract.conftest import OpenStore

pytestmark = pytest.mark.anyio


async def test_a_domain_is_created_and_found(store: Store) -> None:
    created = await store.create_domain("usexample")
    assert created.name == "usexample"
    assert await store.get_domain("usexample") == created
    assert await store.get_domain("otherdomain") is None


async def test_domains_are_listed_by_name(store: Store) -> None:
    second = await store.create_domain("second")
    first = await store.create_domain("first")
    assert [d for d in await store.list_domains() if d.name in {"first", "second"}] == [
        first,
        second,
    ]


async def test_domains_have_distinct_ids(store: Store) -> None:
    first = await store.create_domain("first")
    second = await store.create_domain("second")
    assert first.domain_id != second.domain_id


async def test_a_duplicate_domain_is_a_conflict(store: Store) -> None:
    await store.create_domain("usexample")
    with pytest.raises(errors.Conflict) as raised:
        await store.create_domain("usexample")
    assert type(raised.value) is errors.Conflict
    assert raised.value.message == "That identity domain already exists."


async def test_domain_names_are_case_sensitive(store: Store) -> None:
    await store.create_domain("usexample")
    await store.create_domain("USEXAMPLE")
    assert await store.get_domain("UsExample") is None


async def test_a_user_is_created_and_found(store: Store, domain: Domain) -> None:
    user = await store.create_user(domain.name, "joe@example.com", "hash-1", "operator")
    assert user.domain_id == domain.domain_id
    assert user.domain_name == domain.name
    assert user.name == "joe@example.com"
    assert user.password_hash == "hash-1"
    assert user.role == "operator"
    assert user.credential_version == 1
    assert await store.find_user(domain.name, "joe@example.com") == user
    assert await store.find_user(domain.name, "ann@example.com") is None
    assert await store.find_user("otherdomain", "joe@example.com") is None


async def test_a_user_in_an_unknown_domain_is_refused(store: Store) -> None:
    with pytest.raises(errors.NotFound):
        await store.create_user("nodomain", "joe@example.com", "hash", "admin")


async def test_a_duplicate_user_is_a_conflict(store: Store, domain: Domain) -> None:
    await store.create_user(domain.name, "joe@example.com", "hash", "admin")
    with pytest.raises(errors.Conflict) as raised:
        await store.create_user(domain.name, "joe@example.com", "other", "viewer")
    assert type(raised.value) is errors.Conflict
    assert raised.value.message == "That user already exists in this identity domain."


async def test_the_same_user_name_may_exist_in_two_domains(store: Store, domain: Domain) -> None:
    other = await store.create_domain("otherdomain")
    await store.create_user(domain.name, "joe@example.com", "hash", "admin")
    joe = await store.create_user(other.name, "joe@example.com", "hash", "viewer")
    assert joe.domain_id == other.domain_id


async def test_an_unknown_role_is_a_conflict(store: Store, domain: Domain) -> None:
    with pytest.raises(errors.Conflict):
        await store.create_user(domain.name, "joe@example.com", "hash", "superuser")
    assert await store.find_user(domain.name, "joe@example.com") is None


async def test_an_update_bumps_the_credential_version(store: Store, domain: Domain) -> None:
    await store.create_user(domain.name, "joe@example.com", "hash-1", "viewer")
    updated = await store.update_user(domain.name, "joe@example.com", password_hash="hash-2")
    assert (updated.password_hash, updated.role, updated.credential_version) == (
        "hash-2",
        "viewer",
        2,
    )
    updated = await store.update_user(domain.name, "joe@example.com", role="admin")
    assert (updated.password_hash, updated.role, updated.credential_version) == (
        "hash-2",
        "admin",
        3,
    )
    assert await store.find_user(domain.name, "joe@example.com") == updated


async def test_updating_an_unknown_user_is_not_found(store: Store, domain: Domain) -> None:
    with pytest.raises(errors.NotFound):
        await store.update_user(domain.name, "nobody@example.com", role="admin")
    with pytest.raises(errors.NotFound):
        await store.update_user("nodomain", "joe@example.com", role="admin")


async def test_a_deleted_user_is_gone(store: Store, domain: Domain) -> None:
    await store.create_user(domain.name, "joe@example.com", "hash", "operator")
    await store.delete_user(domain.name, "joe@example.com")
    assert await store.find_user(domain.name, "joe@example.com") is None
    with pytest.raises(errors.NotFound):
        await store.delete_user(domain.name, "joe@example.com")
    again = await store.create_user(domain.name, "joe@example.com", "hash", "viewer")
    assert again.credential_version == 1


async def test_users_are_listed_by_name_byte_order(store: Store, domain: Domain) -> None:
    for name in ("bob", "émile", "Zed", "amy", "_x", "Amy", "zoë"):
        await store.create_user(domain.name, name, "hash", "viewer")
    other = await store.create_domain("otherdomain")
    await store.create_user(other.name, "elsewhere", "hash", "viewer")
    listed = await store.list_users(domain.name)
    # Byte order on both stores (SQLite's BINARY, PostgreSQL's "C"), not a locale's.
    assert [user.name for user in listed] == ["Amy", "Zed", "_x", "amy", "bob", "zoë", "émile"]
    assert await store.list_users("nodomain") == []


async def test_a_name_with_a_nul_character_finds_nothing(store: Store, domain: Domain) -> None:
    await store.create_user(domain.name, "joe@example.com", "hash", "admin")
    assert await store.get_domain(f"{domain.name}\x00") is None
    assert await store.find_user(domain.name, "joe@example.com\x00") is None
    assert await store.find_user(f"{domain.name}\x00", "joe@example.com") is None
    assert await store.list_users(f"\x00{domain.name}") == []


async def test_the_last_admin_keeps_the_admin_role(store: Store, domain: Domain) -> None:
    await store.create_user(domain.name, "joe@example.com", "hash", "admin")
    await store.create_user(domain.name, "ann@example.com", "hash", "viewer")

    for attempt in (
        lambda: store.update_user(domain.name, "joe@example.com", role="operator"),
        lambda: store.update_user(domain.name, "joe@example.com", role="viewer"),
        lambda: store.delete_user(domain.name, "joe@example.com"),
    ):
        with pytest.raises(errors.LastAdmin) as refused:
            await attempt()
        assert refused.value.status_code == 409
        assert "last admin of identity domain [ExampleIdentityDomain]" in refused.value.message

    joe = await store.find_user(domain.name, "joe@example.com")
    assert joe is not None
    assert joe.role == "admin"
    # Changes that leave the domain an admin go through.
    await store.update_user(domain.name, "joe@example.com", role="admin", password_hash="new")
    await store.delete_user(domain.name, "ann@example.com")


async def test_a_domain_with_no_admin_yet_may_change_its_users(
    store: Store, domain: Domain
) -> None:
    await store.create_user(domain.name, "ann@example.com", "hash", "operator")

    await store.update_user(domain.name, "ann@example.com", role="viewer")
    await store.delete_user(domain.name, "ann@example.com")


async def test_two_admins_removing_each_other_at_once_leave_one(
    store: Store, open_another_store: OpenStore
) -> None:
    other_process = await open_another_store()
    for attempt in range(10):  # a race lost once in ten would still show
        domain = await store.create_domain(f"race{attempt}")
        for name in ("ann", "bob"):
            await store.create_user(domain.name, name, "hash", "admin")

        outcomes = await asyncio.gather(
            store.update_user(domain.name, "ann", role="viewer"),
            other_process.delete_user(domain.name, "bob"),
            return_exceptions=True,
        )

        users = await store.list_users(domain.name)
        assert [user.name for user in users if user.role == "admin"] != [], (attempt, outcomes)
        assert sum(isinstance(outcome, errors.LastAdmin) for outcome in outcomes) == 1
