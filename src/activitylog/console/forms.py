"""The console's forms: their bodies (URL-encoded, small, read without python-multipart, which
Starlette's ``request.form()`` needs and nothing else here would use), and the checks every
state-changing form passes: its CSRF token, and the role its action needs."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from activitylog.console.rendering import refusal
from activitylog.console.sessions import Session, csrf_matches
from activitylog.http.auth import ROLES

MAX_FORM_BYTES = 16 * 1024
"""Far more than a sign-in or a Cancel sends."""


async def read_form(request: Request) -> dict[str, str]:
    """The form's fields (the first value of each); empty when the body is not a URL-encoded
    form or is larger than MAX_FORM_BYTES, so that every check on it then fails."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields


def has_role(session: Session, role: str) -> bool:
    """The session's role is ``role`` or above (viewer < operator < admin)."""
    return ROLES.index(session.principal.role) >= ROLES.index(role)


def can_operate(session: Session) -> bool:
    return has_role(session, "operator")


def refusal_of_form(
    session: Session, form: dict[str, str], doing: str, role: str = "operator"
) -> Response | None:
    """A state-changing form's refusal (403), or None: its CSRF token must be the session's,
    and ``doing`` ("Cancelling a job", say) needs ``role``. A page draws no control its reader
    may not use; this refuses the forms forged anyway."""
    if not csrf_matches(session, form.get("csrf_token")):
        return refusal("The form has expired; reload the page and try again.", 403, session)
    if not has_role(session, role):
        return role_refusal(session, doing, role)
    return None


def role_refusal(session: Session, doing: str, role: str) -> Response:
    return refusal(
        f"{doing} needs the {role} role; your role is {session.principal.role}. "
        "Ask an admin of your identity domain if you need it.",
        403,
        session,
    )
