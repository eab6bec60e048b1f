"""Console sessions end after 12 h idle, at sign-out, and when their user's password or role
changes or the user is deleted, whichever process made the change; a page view is a read only,
and a session is seen by every ConsoleSessions on the database (another process's, or this one
after a restart)."""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from activitylog.console.sessions import (
    IDLE_SECONDS,
    TOUCH_AFTER_SECONDS,
    ConsoleSessions,
    csrf_matches,
)
from activitylog.http.auth import Principal
from activitylog.store.base import Store
from tests.conftest import DOMAIN, FAST_HASHER, USER, add_tenant

pytestmark = pytest.mark.anyio


class Clock:
    """Epoch milliseconds, moved by the test in seconds."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> int:
        return int(self.now * 1000)


async def begin(store: Store, clock: Clock) -> tuple[ConsoleSessions, str]:
    await add_tenant(store)
    user = await store.find_user(DOMAIN, USER)
    assert user is not None
    sessions = ConsoleSessions(store, clock=clock)
    principal = Principal(user.user_id, user.domain_id, DOMAIN, USER, user.role)
    session_id, _ = await sessions.begin(principal, user.credential_version)
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


async def test_the_session_is_the_users_as_it_is_now(store: Store) -> None:
    sessions, session_id = await begin(store, Clock())
    session = await sessions.find(session_id)
    assert session is not None
    user = await store.find_user(DOMAIN, USER)
    assert user is not None
    assert session.principal == Principal(user.user_id, user.domain_id, DOMAIN, USER, "admin")
    assert session.principal.via == "password"


async def test_a_page_view_writes_only_when_the_last_one_recorded_is_minutes_old(
    store: Store,
) -> None:
    clock = Clock()
    sessions, session_id = await begin(store, clock)
    session_hash = hashlib.sha256(session_id.encode()).hexdigest()

    async def last_seen() -> int:
        found = await store.find_console_session(session_hash, idle_since=0)
        assert found is not None
        return found.last_seen_at

    began = await last_seen()
    clock.now += TOUCH_AFTER_SECONDS - 1
    assert await sessions.find(session_id) is not None
    assert await last_seen() == began
    clock.now += 1
    assert await sessions.find(session_id) is not None
    assert await last_seen() == clock()


async def test_the_database_keeps_only_the_ids_hash(store: Store, sqlite_path: str) -> None:
    _, session_id = await begin(store, Clock())
    connection = sqlite3.connect(sqlite_path)
    try:
        stored = connection.execute("SELECT session_hash FROM console_sessions").fetchall()
    finally:
        connection.close()
    assert stored == [(hashlib.sha256(session_id.encode()).hexdigest(),)]


async def test_a_new_console_sessions_on_the_same_database_finds_it(store: Store) -> None:
    clock = Clock()
    _, session_id = await begin(store, clock)
    restarted = ConsoleSessions(store, clock=clock)
    assert await restarted.find(session_id) is not None


async def test_sign_out_ends_the_session(store: Store) -> None:
    sessions, session_id = await begin(store, Clock())
    await sessions.end(session_id)
    assert await sessions.find(session_id) is None
    await sessions.end(None)  # signed out already: nothing to end


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
    assert not csrf_matches(session, "é" * 43)  # not ASCII: refused, not an error
    assert not await sessions.find("unknown")
    assert not await sessions.find(None)
