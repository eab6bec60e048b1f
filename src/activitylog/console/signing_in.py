"""Signing in and out of the console, and finding the session a request belongs to.

The password goes through the API's own Authenticator (a Basic credential built from the
form), so failed sign-ins count against the same failed-authentication limits and land in the
same audit trail as failed API requests.
"""

from __future__ import annotations

import base64
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from activitylog import errors
from activitylog.console.forms import read_form
from activitylog.console.rendering import refusal, render
from activitylog.console.sessions import ConsoleSessions, Session, csrf_matches
from activitylog.http import audit
from activitylog.http.context import AppContext

SESSION_COOKIE = "activitylog_console"
# The sign-in form's own CSRF token, before there is a session: a random value both in a
# cookie and in the form (double submit); a page of another site can set neither.
SIGN_IN_COOKIE = "activitylog_console_sign_in"
COOKIE_PATH = "/console"
HOME = "/console/activity"
SIGN_IN = "/console/sign-in"


def _is_tls(request: Request, context: AppContext) -> bool:
    return request.url.scheme == "https" or context.settings.tls_certificate is not None


def _set_cookie(response: Response, name: str, value: str, *, secure: bool) -> None:
    response.set_cookie(
        name, value, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure
    )


async def current_session(request: Request, sessions: ConsoleSessions) -> Session | None:
    return await sessions.find(request.cookies.get(SESSION_COOKIE))


def sign_in_form(
    request: Request,
    context: AppContext,
    *,
    problem: str = "",
    status_code: int = 200,
    domain: str = "",
) -> Response:
    token = request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(32)
    response = render(
        "sign_in.html",
        status_code,
        csrf_token=token,
        problem=problem,
        domain=domain,
        session=None,
    )
    _set_cookie(response, SIGN_IN_COOKIE, token, secure=_is_tls(request, context))
    return response


async def sign_in(request: Request, context: AppContext, sessions: ConsoleSessions) -> Response:
    form = await read_form(request)
    offered, expected = form.get("csrf_token"), request.cookies.get(SIGN_IN_COOKIE)
    if (
        not isinstance(offered, str)
        or not expected
        or not secrets.compare_digest(offered, expected)
    ):
        return refusal("The form has expired; load the sign-in page again.", 403)
    domain, user, password = (form.get(name, "") for name in ("domain", "user", "password"))
    if not domain or not user or not password:
        problem = "Enter the identity domain, the user name and the password."
        return sign_in_form(request, context, problem=problem, status_code=400, domain=domain)
    authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    # Read before the password is checked: should the user change in between, the session
    # remembers the older version, and ends at its first request.
    before = await context.store.find_user(domain, user)
    try:
        principal = await context.authenticator.authenticate(
            domain, authorization, None, client=request.client.host if request.client else None
        )
    except errors.TooManyAuthenticationFailures as refusal_:
        return sign_in_form(
            request, context, problem=refusal_.message, status_code=429, domain=domain
        )
    except errors.AuthenticationFailed:
        await audit.count_failed_sign_in(context.store, request, domain, authorization)
        problem = "The identity domain, user name or password is not right."
        return sign_in_form(request, context, problem=problem, status_code=401, domain=domain)
    if before is None:  # created between the two reads: sign in again
        return sign_in_form(request, context, problem="Please sign in again.", status_code=401)
    session_id, _ = await sessions.begin(principal, before.credential_version)
    response = RedirectResponse(HOME, 303)
    _set_cookie(response, SESSION_COOKIE, session_id, secure=_is_tls(request, context))
    response.delete_cookie(SIGN_IN_COOKIE, path=COOKIE_PATH)
    return response


async def sign_out(request: Request, sessions: ConsoleSessions) -> Response:
    session = await current_session(request, sessions)
    if session is not None:
        form = await read_form(request)
        if not csrf_matches(session, form.get("csrf_token")):
            return refusal("The form has expired; reload the page and try again.", 403)
        await sessions.end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse(SIGN_IN, 303)
    response.delete_cookie(SESSION_COOKIE, path=COOKIE_PATH)
    return response
