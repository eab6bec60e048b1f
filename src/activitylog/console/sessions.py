"""The console's sign-in sessions: server-side, in this process's memory.

A session is a random id in an HttpOnly, SameSite=Strict cookie; the server keeps who it is
for, its CSRF token, and the user's credential_version when it began. It ends after
``IDLE_SECONDS`` without a request, at sign-out, and as soon as its user's password or role
changes or the user is deleted: the store's credentials version (credentials_version.py) moves
with each such change, and a session is then confirmed once against its user's own
credential_version, as the Authenticator confirms its cached credentials.

Memory, not a table: one `activitylog serve` is one process, so this is enough for a single
server, and a restart signs everyone out. Several API processes behind one address
(scale-out) need sticky sessions at the load balancer until the sessions move to a table.
"""

from __future__ import annotations

import dataclasses
import hmac
import secrets
import time
from collections.abc import Callable

from activitylog.http.auth import Principal
from activitylog.http.credentials_version import CredentialsVersion
from activitylog.store.base import Store

IDLE_SECONDS = 12 * 3600.0
MAX_SESSIONS = 10_000
"""Beyond this many, the least recently used session is dropped first."""


@dataclasses.dataclass(slots=True)
class Session:
    principal: Principal
    csrf_token: str
    user_version: int
    """The user's credential_version when the session began."""
    confirmed_at: int | None
    """The store's credentials version when the session was last confirmed."""
    last_seen: float


class ConsoleSessions:
    def __init__(
        self,
        store: Store,
        version: CredentialsVersion,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._version = version
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def begin(self, principal: Principal, user_version: int) -> tuple[str, Session]:
        """A new session for ``principal``: its id (the cookie's value) and the session."""
        if len(self._sessions) >= MAX_SESSIONS:
            self._sessions.pop(next(iter(self._sessions)))
        session_id = secrets.token_urlsafe(32)
        session = Session(
            principal,
            csrf_token=secrets.token_urlsafe(32),
            user_version=user_version,
            confirmed_at=self._version.value,
            last_seen=self._clock(),
        )
        self._sessions[session_id] = session
        return session_id, session

    def end(self, session_id: str | None) -> None:
        if session_id is not None:
            self._sessions.pop(session_id, None)

    async def find(self, session_id: str | None) -> Session | None:
        """The live session with this id, its idle time restarted; None when there is none,
        it sat idle too long, or its user changed since it began."""
        session = self._sessions.get(session_id) if session_id else None
        if session is None or session_id is None:
            return None
        now = self._clock()
        if now - session.last_seen >= IDLE_SECONDS or not await self._still_current(session):
            self._sessions.pop(session_id, None)
            return None
        # Re-inserted last: the dict's order is then least recently used first.
        del self._sessions[session_id]
        self._sessions[session_id] = session
        session.last_seen = now
        return session

    async def _still_current(self, session: Session) -> bool:
        await self._version.refresh()
        if session.confirmed_at is not None and session.confirmed_at == self._version.value:
            return True
        confirmed_at = self._version.value
        principal = session.principal
        user = await self._store.find_user(principal.domain_name, principal.user_name)
        if user is None or user.credential_version != session.user_version:
            return False
        session.confirmed_at = confirmed_at
        return True


def csrf_matches(session: Session, offered: str | None) -> bool:
    return offered is not None and hmac.compare_digest(session.csrf_token, offered)
