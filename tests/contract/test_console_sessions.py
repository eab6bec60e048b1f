"""The console's sign-in sessions in the database: found by their id's hash with their user as
the user is now, seen from every store on the database, ended by sign-out, by a change or the
deletion of their user, by idling, and swept in bounded batches. Times are explicit (epoch ms)."""

from __future__ import annotations

import pytest

from activitylog.store.base import Store
from activitylog.store.records import Domain, NewConsoleSession
from tests.contract.conftest import OpenStore

pytestmark = pytest.mark.anyio

T0 = 1_800_000_000_000
HOUR_MS = 3_600_000
IDLE_MS = 12 * HOUR_MS
USER = "joe@example.com"


@pytest.fixture
async def user_id(store: Store, domain: Domain) -> int:
    await store.create_user(domain.name, USER, "hash", "operator")
    await store.create_user(domain.name, "ann@example.com", "hash", "admin")
    user = await store.find_user(domain.name, USER)
    assert user is not None
    return user.user_id


async def begin(
    store: Store, user_id: int, session_hash: str, now: int = T0, *, per_user: int = 20
) -> None:
    user_version = 1  # a new user's credential_version
    await store.begin_console_session(
        NewConsoleSession(session_hash, user_id, user_version, f"csrf-{session_hash}", now),
        idle_since=now - IDLE_MS,
        per_user=per_user,
        sweep_limit=100,
    )


async def find(store: Store, session_hash: str, now: int = T0) -> object:
    return await store.find_console_session(session_hash, idle_since=now - IDLE_MS)


async def test_a_session_is_found_by_its_hash_with_its_user(
    store: Store, domain: Domain, user_id: int
) -> None:
    await begin(store, user_id, "a" * 64)
    found = await store.find_console_session("a" * 64, idle_since=T0 - IDLE_MS)
    assert found is not None
    assert (found.user_id, found.domain_id, found.domain_name, found.user_name) == (
        user_id,
        domain.domain_id,
        domain.name,
        USER,
    )
    assert (found.role, found.last_seen_at) == ("operator", T0)
    assert found.csrf_token == "csrf-" + "a" * 64
    assert await find(store, "b" * 64) is None


async def test_another_store_on_the_database_sees_it_and_its_end(
    store: Store, user_id: int, open_another_store: OpenStore
) -> None:
    other = await open_another_store()
    await begin(store, user_id, "shared")
    assert await find(other, "shared") is not None
    await other.end_console_session("shared")
    assert await find(store, "shared") is None


@pytest.mark.parametrize("change", ["password", "role"])
async def test_a_change_of_the_user_ends_it(
    store: Store, domain: Domain, user_id: int, change: str
) -> None:
    await begin(store, user_id, "s")
    if change == "password":
        await store.update_user(domain.name, USER, password_hash="new hash")
    else:
        await store.update_user(domain.name, USER, role="viewer")
    assert await find(store, "s") is None


async def test_deleting_the_user_deletes_its_sessions(
    store: Store, domain: Domain, user_id: int
) -> None:
    await begin(store, user_id, "s")
    await store.delete_user(domain.name, USER)
    assert await find(store, "s") is None
    # Gone, not merely hidden: the sweep has nothing left to end, whenever it looks.
    assert await store.sweep_console_sessions(idle_since=T0 + 1, limit=100) == 0


async def test_another_users_change_leaves_it_alone(
    store: Store, domain: Domain, user_id: int
) -> None:
    await begin(store, user_id, "s")
    await store.update_user(domain.name, "ann@example.com", password_hash="new hash")
    assert await find(store, "s") is not None


async def test_it_lasts_while_seen_and_ends_after_twelve_idle_hours(
    store: Store, user_id: int
) -> None:
    await begin(store, user_id, "s")
    assert await find(store, "s", T0 + IDLE_MS - 1) is not None
    assert await find(store, "s", T0 + IDLE_MS) is None
    await store.touch_console_session("s", T0 + IDLE_MS - 1)
    assert await find(store, "s", T0 + 2 * IDLE_MS - 2) is not None
    assert await find(store, "s", T0 + 2 * IDLE_MS - 1) is None


async def test_a_touch_never_moves_the_last_request_back(store: Store, user_id: int) -> None:
    await begin(store, user_id, "s")
    await store.touch_console_session("s", T0 + HOUR_MS)
    await store.touch_console_session("s", T0 + 1)  # a slower process's earlier request
    found = await store.find_console_session("s", idle_since=T0)
    assert found is not None
    assert found.last_seen_at == T0 + HOUR_MS


async def test_the_sweep_ends_idle_sessions_oldest_first_in_batches(
    store: Store, user_id: int
) -> None:
    for hour in range(3):
        await begin(store, user_id, f"old-{hour}", T0 + hour * HOUR_MS)
    await begin(store, user_id, "fresh", T0 + 11 * HOUR_MS)
    idle_since = T0 + 2 * HOUR_MS  # old-0, old-1 and old-2 sat idle since then or before
    assert await store.sweep_console_sessions(idle_since=idle_since, limit=2) == 2
    assert await store.find_console_session("old-2", idle_since=T0 - 1) is not None
    assert await store.find_console_session("old-1", idle_since=T0 - 1) is None
    assert await store.sweep_console_sessions(idle_since=idle_since, limit=2) == 1
    assert await store.sweep_console_sessions(idle_since=idle_since, limit=2) == 0
    assert await store.find_console_session("fresh", idle_since=idle_since) is not None


async def test_a_sign_in_sweeps_the_idle_sessions(store: Store, user_id: int) -> None:
    await begin(store, user_id, "old", T0)
    await begin(store, user_id, "new", T0 + IDLE_MS)
    assert await store.sweep_console_sessions(idle_since=T0 + 1, limit=100) == 0
    assert await find(store, "new", T0 + IDLE_MS) is not None


async def test_a_sign_in_beyond_the_cap_ends_the_least_recently_seen(
    store: Store, user_id: int
) -> None:
    for index in range(3):
        await begin(store, user_id, f"s{index}", T0 + index, per_user=3)
    await store.touch_console_session("s0", T0 + 10)
    await begin(store, user_id, "s3", T0 + 11, per_user=3)
    alive = [h for h in ("s0", "s1", "s2", "s3") if await find(store, h, T0 + 11) is not None]
    assert alive == ["s0", "s2", "s3"]
