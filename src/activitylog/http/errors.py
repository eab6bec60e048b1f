"""One place that turns any failure into PSM's JSON error body: never HTML, never a traceback."""

from __future__ import annotations

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activitylog import errors
from activitylog.http.bodies import error_body

log = structlog.get_logger("activitylog.http")

_JSON = "application/json"
_RETRY_AFTER_SECONDS = "2"


def error_response(exc: errors.ActivityLogError) -> Response:
    issues = exc.issues if isinstance(exc, errors.InvalidRequest) else None
    response = Response(
        error_body(exc.status_code, exc.message, issues), exc.status_code, media_type=_JSON
    )
    if isinstance(exc, errors.AuthenticationFailed):
        response.headers["WWW-Authenticate"] = 'Basic realm="activitylog"'
    if isinstance(exc, errors.StoreUnavailable):
        response.headers["Retry-After"] = _RETRY_AFTER_SECONDS
    if isinstance(exc, errors.TooManyRequests | errors.TooManyAuthenticationFailures):
        response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


async def handle_activitylog_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, errors.ActivityLogError):  # pragma: no cover - registered by class
        raise exc
    if exc.status_code >= 500:
        log.warning("request failed", status=exc.status_code, error=exc.message)
    return error_response(exc)


_HTTP_MESSAGES = {
    404: "No such resource; see /openapi.json for the routes this service offers.",
    405: "This method is not allowed on this resource.",
}


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # pragma: no cover - registered by class
        raise exc
    message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
    response = Response(error_body(exc.status_code, message), exc.status_code, media_type=_JSON)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


EXCEPTION_HANDLERS = {
    errors.ActivityLogError: handle_activitylog_error,
    HTTPException: handle_http_exception,
}

_INTERNAL_ERROR = error_body(
    500,
    "Internal error. The X-ORACLE-DMS-ECID header of this answer identifies the request in the "
    "server log.",
)


class UnexpectedErrorMiddleware:
    """Answers any other exception with the JSON 500 body.

    Pure ASGI, placed inside ResponseHeadersMiddleware: Starlette runs its own handler for
    ``Exception`` outside every user middleware, where the answer would lose its ECID.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_and_note_start(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, send_and_note_start)
        except Exception:
            log.exception("unexpected error")
            if started:  # too late for an error body: let the server drop the connection
                raise
            await Response(_INTERNAL_ERROR, 500, media_type=_JSON)(scope, receive, send)
