"""The console's sign-in sessions: server-side, in the database (the console_sessions table).

A session is a random id in an HttpOnly, SameSite=Strict cookie. The database keeps the id's
SHA-256 (never the id: a row read out of it signs no one in), the user, the user's
credential_version at sign-in, the session's CSRF token, and when it was last seen. Every API
process reads the same table, so a session begun through one works through any other
(scale-out), and a restart keeps everyone signed in.

A request finds its session in one point read that joins the user's row: the session counts
only while the user exists with the same credential_version (a password or role change, or a
deletion, made by any process, ends it at the next request) and was seen in the last
``IDLE_SECONDS``; who it is for (the domain, the role) is read fresh with it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

from activitylog.http.auth import Principal
from activitylog.store.base import Store
from activitylog.store.records import NewConsoleSession

IDLE_SECONDS = 12 * 3600
"""A session ends after this long without a request (up to TOUCH_AFTER_SECONDS sooner)."""
TOUCH_AFTER_SECONDS = 5 * 60
"""A request records itself as the session's last one only when the one recorded is older
than this: a page view is then a read alone, not a write through SQLite's single writer (or a
row update on PostgreSQL) for every fetch of a live part. The price is an idle time measured up
to this much short."""
SESSIONS_PER_USER = 20
"""Signing in beyond this many sessions ends the user's least recently seen one: a script that
signs in again and again does not grow the table without bound."""
SWEEP_BATCH = 100
"""Each sign-in ends at most this many sessions of anyone that sat idle too long."""


@dataclasses.dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf_token: str


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _wall_clock_ms() -> int:
    return int(time.time() * 1000)


class ConsoleSessions:
    def __init__(self, store: Store, *, clock: Callable[[], int] = _wall_clock_ms) -> None:
        """``clock``: epoch milliseconds; tests pass their own."""
        self._store = store
        self._clock = clock

    async def begin(self, principal: Principal, user_version: int) -> tuple[str, Session]:
        """A new session for ``principal``, whose user had ``user_version`` when its password
        was checked: its id (the cookie's value) and the session."""
        session_id = secrets.token_urlsafe(32)
        session = Session(principal, csrf_token=secrets.token_urlsafe(32))
        now = self._clock()
        stored = NewConsoleSession(
            _hash(session_id), principal.user_id, user_version, session.csrf_token, now
        )
        await self._store.begin_console_session(
            stored,
            idle_since=now - IDLE_SECONDS * 1000,
            per_user=SESSIONS_PER_USER,
            sweep_limit=SWEEP_BATCH,
        )
        return session_id, session

    async def end(self, session_id: str | None) -> None:
        if session_id:
            await self._store.end_console_session(_hash(session_id))

    async def find(self, session_id: str | None) -> Session | None:
        """The live session with this id; None when there is none, it sat idle too long, or
        its user changed or was deleted since it began."""
        if not session_id:
            return None
        session_hash, now = _hash(session_id), self._clock()
        found = await self._store.find_console_session(
            session_hash, idle_since=now - IDLE_SECONDS * 1000
        )
        if found is None:
            return None
        if now - found.last_seen_at >= TOUCH_AFTER_SECONDS * 1000:
            await self._store.touch_console_session(session_hash, now)
        principal = Principal(
            found.user_id, found.domain_id, found.domain_name, found.user_name, found.role
        )
        return Session(principal, found.csrf_token)


def csrf_matches(session: Session, offered: str | None) -> bool:
    # As bytes: compare_digest refuses a str with characters beyond ASCII, which a forged
    # form may well send.
    return offered is not None and hmac.compare_digest(
        session.csrf_token.encode(), offered.encode()
    )
