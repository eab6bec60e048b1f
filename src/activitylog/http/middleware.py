"""Headers every answer carries (ECID, X-Frame-Options, CORS), and CORS preflight.

Pure ASGI (not BaseHTTPMiddleware), so the ECID bound into structlog's context variables is
visible to the route that handles the request.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CORS_METHODS = "GET, POST, DELETE, PUT, OPTIONS, HEAD"
# Oracle's own allow-list; a header is added here only once some route reads it.
# Oracle's list, then the request headers of our extensions (conditional GETs, event-stream
# resumption, idempotent submission).
CORS_HEADERS = (
    "Content-Type, api_key, Authorization, X-ID-TENANT-NAME, X-USER-IDENTITY-DOMAIN-NAME, "
    "If-None-Match, Last-Event-ID, Idempotency-Key"
)
COMMON_HEADERS = [
    (b"x-frame-options", b"DENY"),
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", CORS_METHODS.encode()),
    (b"access-control-allow-headers", CORS_HEADERS.encode()),
    (b"access-control-expose-headers", b"Location, X-ORACLE-DMS-ECID, Retry-After, ETag"),
]


Headers = list[tuple[bytes, bytes]]


def with_common_headers(headers: Iterable[tuple[bytes, bytes]], ecid: bytes) -> Headers:
    """An answer's headers followed by those every answer carries; the middleware and the
    job-status fast path both call this, so their answers cannot drift apart."""
    return [*headers, *COMMON_HEADERS, (b"x-oracle-dms-ecid", ecid)]


class ExecutionContextIds:
    """Fresh execution-context ids: a per-process random prefix and a counter (no uuid4 cost)."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(6)
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):010x}"


class ResponseHeadersMiddleware:
    def __init__(self, app: ASGIApp, ecids: ExecutionContextIds | None = None) -> None:
        self.app = app
        # Shared with the job-status fast path, so that ECIDs stay unique in the process.
        self.ecids = ecids or ExecutionContextIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ecid = self.ecids.next()
        if scope["method"] == "OPTIONS":
            await _answer_preflight(send, with_common_headers((), ecid.encode()))
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = with_common_headers(message.get("headers", ()), ecid.encode())
            await send(message)

        with structlog.contextvars.bound_contextvars(ecid=ecid):
            await self.app(scope, receive, send_with_headers)


async def _answer_preflight(send: Send, headers: Headers) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 204,
            "headers": [*headers, (b"access-control-max-age", b"600")],
        }
    )
    await send({"type": "http.response.body", "body": b""})
