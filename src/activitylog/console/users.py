"""The console's Users page, for a domain's admins: its users and their roles; add a user,
change a role, reset a password, remove a user.

Each change goes through the API's own functions (http/users_api.py): the same checks and
messages, the same argon2 hashing off the event loop, the same audit events, and the same
credential_version move that ends the user's sessions and cached credentials everywhere.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from activitylog import errors
from activitylog.console.forms import has_role, read_form, refusal_of_form, role_refusal
from activitylog.console.rendering import render
from activitylog.console.sessions import Session
from activitylog.http import users_api
from activitylog.http.auth import ROLES
from activitylog.http.context import AppContext

PAGE = "/console/users"
PAGE_SIZE = 50
"""Users shown at once: a row is 1.5 KB, and 2.8 KB with a name of 255 characters (its
longest), so that a page stays under 200 KB."""
# What an error means the admin should do next, by the kind of error (the first that fits).
_NEXT_STEPS: tuple[tuple[type[errors.ActivityLogError], str], ...] = (
    (errors.InvalidRequest, "Correct what it names and try again."),
    (errors.LastAdmin, ""),  # its message says what to do
    (errors.Conflict, "Choose another name, or change that user's role or password below."),
    (errors.NotFound, "Someone may have removed it meanwhile; the list below is current."),
)
_CHANGE_ERRORS = (errors.InvalidRequest, errors.Conflict, errors.NotFound)


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    what: str
    """What did not work ("Adding bob did not work.")."""
    message: str
    """The API's message, with its issues."""
    next_step: str


async def users_page(request: Request, context: AppContext, session: Session) -> Response:
    if not has_role(session, "admin"):
        return role_refusal(session, "The Users page", "admin")
    text = request.query_params.get("offset", "0")
    offset = int(text) if text.isdigit() and len(text) < 10 else 0
    return await _users_list(context, session, notice=_notice(request), offset=offset)


async def add_user(request: Request, context: AppContext, session: Session) -> Response:
    async def add(form: dict[str, str]) -> None:
        name, password, role = (form.get(field, "") for field in ("name", "password", "role"))
        await users_api.add_user(request, context, session.principal, name, password, role)

    return await _change(request, context, session, add, "added", "Adding {}", keep_typed=True)


async def change_role(request: Request, context: AppContext, session: Session) -> Response:
    async def change(form: dict[str, str]) -> None:
        name, role = form.get("name", ""), form.get("role", "")
        await users_api.change_user(request, context, session.principal, name, role=role)

    return await _change(request, context, session, change, "role", "Changing the role of {}")


async def reset_password(request: Request, context: AppContext, session: Session) -> Response:
    async def reset(form: dict[str, str]) -> None:
        name, password = form.get("name", ""), form.get("password", "")
        await users_api.change_user(request, context, session.principal, name, password=password)

    what = "Resetting the password of {}"
    return await _change(request, context, session, reset, "password", what)


async def remove_user(request: Request, context: AppContext, session: Session) -> Response:
    async def remove(form: dict[str, str]) -> None:
        await users_api.remove_user(request, context, session.principal, form.get("name", ""))

    return await _change(request, context, session, remove, "removed", "Removing {}")


async def _change(
    request: Request,
    context: AppContext,
    session: Session,
    change: Callable[[dict[str, str]], Awaitable[None]],
    done: str,
    what: str,
    *,
    keep_typed: bool = False,
) -> Response:
    """Make the form's change as the session's admin, then show the list again: with what
    changed, or with why it did not (and, for the add form, what was typed but the password)."""
    form, refused = await _admin_form(request, session)
    if refused is not None:
        return refused
    name = form.get("name", "")
    try:
        await change(form)
    except _CHANGE_ERRORS as error:
        typed = {"name": name, "role": form.get("role", "")} if keep_typed else None
        return await _users_list(context, session, problem=(what.format(name), error), typed=typed)
    return _done(done, name)


async def _admin_form(request: Request, session: Session) -> tuple[dict[str, str], Response | None]:
    """The form's fields, or the refusal when it lacks the session's token or the session's
    user is not an admin (the page shows a viewer no such form, but one may be forged)."""
    form = await read_form(request)
    return form, refusal_of_form(session, form, "The Users page", role="admin")


async def _users_list(
    context: AppContext,
    session: Session,
    *,
    notice: str = "",
    problem: tuple[str, errors.ActivityLogError] | None = None,
    typed: dict[str, str] | None = None,
    offset: int = 0,
) -> Response:
    status_code = 200 if problem is None else problem[1].status_code
    users = await context.store.list_users(session.principal.domain_name)
    return render(
        "users.html",
        status_code,
        session=session,
        users=users[offset : offset + PAGE_SIZE],
        total=len(users),
        first=offset + 1,
        previous=max(0, offset - PAGE_SIZE) if offset > 0 else None,
        next=offset + PAGE_SIZE if offset + PAGE_SIZE < len(users) else None,
        roles=ROLES,
        notice=notice,
        problem=None if problem is None else _problem(*problem),
        typed=typed or {"name": "", "role": "viewer"},
    )


def _problem(what: str, error: errors.ActivityLogError) -> Problem:
    message = error.message
    if isinstance(error, errors.InvalidRequest) and error.issues:
        message = f"{message.rstrip('.')}: {'; '.join(error.issues)}."
    next_step = next(step for kind, step in _NEXT_STEPS if isinstance(error, kind))
    return Problem(f"{what} did not work.", message, next_step)


def _done(change: str, name: str) -> Response:
    """Back to the list, which says what changed (and a reload changes nothing again)."""
    return RedirectResponse(f"{PAGE}?{urlencode({'done': change, 'user': name})}", 303)


def _notice(request: Request) -> str:
    change, name = request.query_params.get("done"), request.query_params.get("user", "")
    if change == "added":
        return f"Added {name}; they can sign in now."
    if change == "role":
        return f"Changed the role of {name}; their open sessions are signed out."
    if change == "password":
        return f"Reset the password of {name}; their open sessions are signed out."
    if change == "removed":
        return f"Removed {name}; their sessions and API tokens no longer work."
    return ""
