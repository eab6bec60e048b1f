"""One log line per HTTP request (``--access-log``, off by default), outside everything else,
the job-status fast path included, so that no answer goes unlogged.

It names the request (method, path: never the query string or a header, where credentials
travel), the answer (status, milliseconds, ECID) and, once authentication has succeeded, the
identity domain and user, which the routes and the fast path leave in the scope under
PRINCIPAL_KEY.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import structlog
from starlette.types import Message, Receive, Scope, Send

from activitylog.http.auth import Principal

PRINCIPAL_KEY = "activitylog.principal"
"""Where the request's authenticated Principal is kept in the ASGI scope."""

_ECID = b"x-oracle-dms-ecid"

ASGICall = Callable[[Scope, Receive, Send], Awaitable[None]]
log = structlog.get_logger("activitylog.access")


def remember_principal(scope: Scope, principal: Principal) -> None:
    scope[PRINCIPAL_KEY] = principal


async def log_request(scope: Scope, receive: Receive, send: Send, answer: ASGICall) -> None:
    """Run ``answer`` for an HTTP request and log one line once it is done."""
    started = time.perf_counter()
    status = 0
    ecid = ""

    async def observed_send(message: Message) -> None:
        nonlocal status, ecid
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", ()):
                if name == _ECID:
                    ecid = value.decode("latin-1")
        await send(message)

    try:
        await answer(scope, receive, observed_send)
    finally:
        _log_line(scope, status, ecid, time.perf_counter() - started)


def _log_line(scope: Scope, status: int, ecid: str, seconds: float) -> None:
    principal: Principal | None = scope.get(PRINCIPAL_KEY)
    client = scope.get("client")
    log.info(
        "request",
        method=scope["method"],
        path=scope["path"],
        status=status or None,  # None: the request ended before an answer started
        ms=round(seconds * 1000, 2),
        ecid=ecid or None,
        client=client[0] if client else None,
        domain=principal.domain_name if principal else None,
        user=principal.user_name if principal else None,
    )
