"""Console sessions end after 12 h idle, at sign-out, and when their user's password or role
changes or the user is deleted, whichever process made the change."""

from __future__ import annotations

import pytest

from activitylog.console.sessions import IDLE_SECONDS, ConsoleSessions, csrf_matches
from activitylog.http.auth import Principal
from activitylog.http.credentials_version import CredentialsVersion
from activitylog.store.base import Store
from tests.conftest import DOMAIN, FAST_HASHER, USER, add_tenant

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def begin(store: Store, clock: Clock) -> tuple[ConsoleSessions, str]:
    await add_tenant(store)
    user = await store.find_user(DOMAIN, USER)
    assert user is not None
    # check_seconds=0: every find reads the store's version, as if half a second had passed.
    sessions = ConsoleSessions(store, CredentialsVersion(store, check_seconds=0), clock=clock)
    principal = Principal(user.user_id, user.domain_id, DOMAIN, USER, user.role)
    session_id, _ = sessions.begin(principal, user.credential_version)
    return sessions, session_id


async def test_a_session_lasts_while_used_and_ends_after_twelve_idle_hours(store: Store) -> None:
    clock = Clock()
    sessions, session_id = await begin(store, clock)
    clock.now += IDLE_SECONDS - 1
    assert await sessions.find(session_id) is not None  # used: the idle time starts again
    clock.now += IDLE_SECONDS - 1
    assert await sessions.find(session_id) is not None
    clock.now += IDLE_SECONDS
    assert await sessions.find(session_id) is None
    clock.now = 0
    assert await sessions.find(session_id) is None  # gone, not merely expired


async def test_sign_out_ends_the_session(store: Store) -> None:
    sessions, session_id = await begin(store, Clock())
    sessions.end(session_id)
    assert await sessions.find(session_id) is None


@pytest.mark.parametrize("change", ["password", "role", "deletion"])
async def test_a_change_of_the_user_ends_its_sessions(store: Store, change: str) -> None:
    sessions, session_id = await begin(store, Clock())
    await store.create_user(DOMAIN, "other@example.com", FAST_HASHER.hash("x" * 8), "admin")
    assert await sessions.find(session_id) is not None
    if change == "password":
        await store.update_user(DOMAIN, USER, password_hash=FAST_HASHER.hash("new password"))
    elif change == "role":
        await store.update_user(DOMAIN, USER, role="viewer")
    else:
        await store.delete_user(DOMAIN, USER)
    assert await sessions.find(session_id) is None


async def test_another_users_change_leaves_the_session_alone(store: Store) -> None:
    sessions, session_id = await begin(store, Clock())
    await store.create_user(DOMAIN, "other@example.com", FAST_HASHER.hash("x" * 8), "admin")
    await store.update_user(DOMAIN, "other@example.com", role="viewer")
    assert await sessions.find(session_id) is not None


async def test_the_csrf_token_must_match_exactly(store: Store) -> None:
    sessions, session_id = await begin(store, Clock())
    session = await sessions.find(session_id)
    assert session is not None
    assert csrf_matches(session, session.csrf_token)
    assert not csrf_matches(session, None)
    assert not csrf_matches(session, session.csrf_token[:-1])
    assert not await sessions.find("unknown")
    assert not await sessions.find(None)
