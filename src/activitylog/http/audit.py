"""Recording the audit trail from the HTTP layer: who (and from which address) did what to what.
Each event goes to the store, for the domain's admins (http/audit_api.py), and to the log."""

from __future__ import annotations

import structlog
from starlette.requests import Request

from activitylog import errors
from activitylog.http.auth import Principal, parse_basic
from activitylog.store.base import Store
from activitylog.store.records import Actor, AuditRecord

log = structlog.get_logger("activitylog.audit")

_MAX_NAME = 255


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def actor_of(request: Request, principal: Principal) -> Actor:
    return Actor(principal.user_name, client_address(request))


def log_event(domain_name: str, record: AuditRecord) -> None:
    log.info(
        "audit",
        kind=record.kind,
        domain=domain_name,
        actor=record.actor.name,
        address=record.actor.address,
        subject=record.subject,
        **record.details,
    )


async def record_event(
    store: Store,
    request: Request,
    principal: Principal,
    kind: str,
    subject: str,
    **details: object,
) -> None:
    """Record and log what ``principal`` just did. After the change itself, in a transaction
    of its own: a failure here is logged, and does not undo or fail the change."""
    record = AuditRecord(principal.domain_id, kind, actor_of(request, principal), subject, details)
    log_event(principal.domain_name, record)
    try:
        await store.record_audit_event(record)
    except errors.StoreUnavailable as exc:
        log.warning("could not record an audit event", kind=kind, error=exc.message)


async def count_failed_sign_in(
    store: Store, request: Request, domain_name: str, authorization: str
) -> None:
    """One more failed sign-in by whoever the credentials claim to be, from this address.

    Credentials too malformed to name anyone are logged, not stored: the failed-authentication
    limits never see them (nothing is verified), so a flood of them would be a flood of writes.
    """
    actor = Actor(_claimed_name(authorization), client_address(request))
    log.info(
        "audit", kind="sign_in_failed", domain=domain_name, actor=actor.name, address=actor.address
    )
    if actor.name == _MALFORMED:
        return
    try:
        await store.count_failed_sign_in(domain_name, actor)
    except errors.ActivityLogError as exc:  # the 401 stays a 401
        log.warning("could not count a failed sign-in", error=exc.message)


_MALFORMED = "(malformed credentials)"


def _claimed_name(authorization: str) -> str:
    scheme = authorization.partition(" ")[0].lower()
    if scheme == "bearer":
        return "(bearer token)"
    try:
        user_name, _ = parse_basic(authorization)
    except errors.AuthenticationFailed:
        return _MALFORMED
    return user_name[:_MAX_NAME]
