"""The store transactions of personal API tokens and of the audit trail, written once for both
dialects as generators of steps (store/steps.py), like those of store/transactions.py.

A token is revoked, and a user changed or deleted, in a transaction that also bumps the
credentials version: other processes compare it now and then, and drop the tokens they trust
when it moved (http/bearer.py). The console's sign-in sessions need no such version: each
request reads its session together with its user (console/sessions.py).
"""

from __future__ import annotations

import json

from activitylog import errors
from activitylog.domain import audit
from activitylog.domain.audit import AuditQuery
from activitylog.store import steps
from activitylog.store.records import (
    Actor,
    ApiToken,
    AuditEvent,
    AuditRecord,
    ConsoleSessionGrant,
    NewConsoleSession,
    NewToken,
    TokenGrant,
    audit_event_from_row,
)
from activitylog.store.steps import Transaction

# -- personal API tokens ----------------------------------------------------------------------


def create_token(token: NewToken, actor: Actor, now: int) -> Transaction[ApiToken]:
    user = yield steps.row("find_user_in_domain", domain_id=token.domain_id, name=token.user_name)
    if user is None:
        raise errors.NotFound(f"No user [{token.user_name}] in this identity domain.")
    token_id = yield steps.value(
        "insert_token",
        user_id=user["user_id"],
        name=token.name,
        secret_hash=token.secret_hash,
        role=token.role,
        created_by=actor.name,
        now=now,
        expires_at=token.expires_at,
    )
    created = yield from _stored_token(token.domain_id, token_id)
    details = {"tokenId": token_id, "name": token.name, "role": token.role}
    yield from record_event(
        AuditRecord(token.domain_id, audit.TOKEN_CREATED, actor, token.user_name, details), now
    )
    return created


def get_token(domain_id: int, token_id: int) -> Transaction[ApiToken | None]:
    found = yield steps.row("get_token", domain_id=domain_id, token_id=token_id)
    return ApiToken(*found) if found else None


def list_tokens(domain_id: int, user_id: int | None) -> Transaction[list[ApiToken]]:
    found = yield steps.rows("list_tokens", domain_id=domain_id, user_id=user_id)
    return [ApiToken(*token) for token in found]


def revoke_token(
    domain_id: int, token_id: int, actor: Actor, owner_id: int | None, now: int
) -> Transaction[ApiToken]:
    """Delete the token (only if ``owner_id`` owns it, when given), at once for every process
    that checks the credentials version."""
    token = yield from get_token(domain_id, token_id)
    if token is None or (owner_id is not None and token.user_id != owner_id):
        raise errors.NotFound(f"No API token [{token_id}] of yours in this identity domain.")
    yield steps.execute("delete_token", token_id=token_id)
    yield steps.execute("bump_credentials_version")
    details = {"tokenId": token_id, "name": token.name}
    yield from record_event(
        AuditRecord(domain_id, audit.TOKEN_REVOKED, actor, token.user_name, details), now
    )
    return token


def find_token(secret_hash: str) -> Transaction[TokenGrant | None]:
    found = yield steps.row("find_token_by_secret", secret_hash=secret_hash)
    return TokenGrant(*found) if found else None


def record_token_use(token_ids: list[int], now: int) -> Transaction[None]:
    yield steps.QueryEach("record_token_use", [{"token_id": t, "now": now} for t in token_ids])


def credentials_version() -> Transaction[int]:
    return int((yield steps.value("credentials_version")))


def bump_credentials_version() -> Transaction[None]:
    yield steps.execute("bump_credentials_version")


def _stored_token(domain_id: int, token_id: int) -> Transaction[ApiToken]:
    token = yield from get_token(domain_id, token_id)
    if token is None:  # pragma: no cover - written by the same transaction
        raise errors.NotFound(f"No API token [{token_id}].")
    return token


# -- the console's sign-in sessions ------------------------------------------------------------


def begin_console_session(
    session: NewConsoleSession, idle_since: int, per_user: int, sweep_limit: int
) -> Transaction[None]:
    """Store the session; end the user's least recently seen ones beyond ``per_user``, and up
    to ``sweep_limit`` sessions of anyone idle since ``idle_since``. Sign-ins are what adds
    rows, so sweeping a bounded batch at each keeps the table near the live sessions."""
    yield from sweep_console_sessions(idle_since, sweep_limit)
    yield steps.execute("trim_user_console_sessions", user_id=session.user_id, keep=per_user - 1)
    yield steps.execute(
        "insert_console_session",
        session_hash=session.session_hash,
        user_id=session.user_id,
        user_version=session.user_version,
        csrf_token=session.csrf_token,
        now=session.now,
    )


def find_console_session(
    session_hash: str, idle_since: int
) -> Transaction[ConsoleSessionGrant | None]:
    found = yield steps.row(
        "find_console_session", session_hash=session_hash, idle_since=idle_since
    )
    return ConsoleSessionGrant(*found) if found else None


def touch_console_session(session_hash: str, now: int) -> Transaction[None]:
    yield steps.execute("touch_console_session", session_hash=session_hash, now=now)


def end_console_session(session_hash: str) -> Transaction[None]:
    yield steps.execute("delete_console_session", session_hash=session_hash)


def sweep_console_sessions(idle_since: int, limit: int) -> Transaction[int]:
    """End up to ``limit`` sessions idle since ``idle_since``; how many it ended."""
    swept = yield steps.rows("delete_idle_console_sessions", idle_since=idle_since, limit=limit)
    return len(swept)


# -- the audit trail --------------------------------------------------------------------------


def record_event(event: AuditRecord, now: int) -> Transaction[None]:
    yield steps.execute(
        "insert_audit_event",
        domain_id=event.domain_id,
        kind=event.kind,
        actor=event.actor.name,
        address=event.actor.address,
        subject=event.subject,
        details=json.dumps(event.details),
        now=now,
    )


def count_failed_sign_in(domain_name: str, actor: Actor, now: int) -> Transaction[None]:
    """One more failed sign-in in this hour's row; nothing for a domain that does not exist
    (there is no one to read its audit trail)."""
    domain = yield steps.row("get_domain", name=domain_name)
    if domain is None:
        return
    yield steps.execute(
        "count_audit_event",
        domain_id=domain["domain_id"],
        kind=audit.SIGN_IN_FAILED,
        actor=actor.name,
        address=actor.address,
        subject=actor.name,
        details="{}",
        now=now,
        hour=audit.hour_of(now),
    )


def search_events(domain_id: int, query: AuditQuery) -> Transaction[tuple[list[AuditEvent], int]]:
    """One page of matching events, newest first, and how many match in all."""
    where = {
        "domain_id": domain_id,
        "kind": query.kind,
        "since": query.since_ms,
        "until": query.until_ms,
    }
    total = yield steps.value("count_audit_events", **where)
    page = yield steps.rows("audit_events_page", **where, limit=query.limit, offset=query.offset)
    return [audit_event_from_row(event) for event in page], int(total)
