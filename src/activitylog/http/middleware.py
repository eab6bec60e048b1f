"""Headers every answer carries (ECID, X-Frame-Options, nosniff, CORS, HSTS under TLS), the
caching headers of authenticated answers, and CORS preflight.

Pure ASGI (not BaseHTTPMiddleware), so the ECID bound into structlog's context variables is
visible to the route that handles the request.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import secrets
from collections.abc import Iterable

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from activitylog.settings import Settings

CORS_METHODS = "GET, POST, DELETE, PUT, OPTIONS, HEAD"
# Oracle's list, then the request headers of our extensions (conditional GETs, event-stream
# resumption, idempotent submission); a header is added here only once some route reads it.
CORS_HEADERS = (
    "Content-Type, api_key, Authorization, X-ID-TENANT-NAME, X-USER-IDENTITY-DOMAIN-NAME, "
    "If-None-Match, Last-Event-ID, Idempotency-Key"
)
ANY_ORIGIN = "*"
# A year: browsers then refuse plain HTTP to this host until it has gone unrenewed that long.
HSTS = b"max-age=31536000"
PUBLIC_PATHS = frozenset({"/health", "/health/live", "/health/ready", "/openapi.json", "/metrics"})
"""The routes app.py serves without credentials; every other answer is an authenticated one."""
PUBLIC_PREFIXES = ("/console/static/",)
"""Paths served to anyone, and cacheable: the console's versioned static files."""

_ALLOW_ORIGIN = b"access-control-allow-origin"
_ECID = b"x-oracle-dms-ecid"
_ALWAYS = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"access-control-allow-methods", CORS_METHODS.encode()),
    (b"access-control-allow-headers", CORS_HEADERS.encode()),
    (b"access-control-expose-headers", b"Location, X-ORACLE-DMS-ECID, Retry-After, ETag"),
)
# An answer that depends on the credentials must not be kept by a shared cache (a proxy would
# hand one user's jobs to the next) nor written to a browser's disk.
_NOT_STORED = (b"cache-control", b"no-store")


Headers = list[tuple[bytes, bytes]]


@dataclasses.dataclass(frozen=True, slots=True)
class HeaderPolicy:
    """The headers the settings put on answers, built once: a cache hit only concatenates."""

    authenticated: tuple[tuple[bytes, bytes], ...]
    public: tuple[tuple[bytes, bytes], ...]
    allowed_origins: frozenset[bytes] | None
    """The origins named back in Access-Control-Allow-Origin; None: any (``*`` is sent)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> HeaderPolicy:
        any_origin = ANY_ORIGIN in settings.cors_origins
        common = list(_ALWAYS)
        if settings.tls_certificate:
            common.append((b"strict-transport-security", HSTS))
        if any_origin:
            common.append((_ALLOW_ORIGIN, ANY_ORIGIN.encode()))
            authenticated = (_NOT_STORED, (b"vary", b"Authorization"), *common)
            public = tuple(common)
        else:
            # The answer now depends on the Origin header: a cache must key on it.
            authenticated = (_NOT_STORED, (b"vary", b"Authorization, Origin"), *common)
            public = ((b"vary", b"Origin"), *common)
        origins = None if any_origin else frozenset(o.encode() for o in settings.cors_origins)
        return cls(authenticated, public, origins)


def with_common_headers(
    headers: Iterable[tuple[bytes, bytes]],
    ecid: bytes,
    policy: HeaderPolicy,
    *,
    authenticated: bool,
    origin: bytes | None = None,
) -> Headers:
    """An answer's headers followed by those the policy adds; the middleware and the job-status
    fast path both call this, so their answers cannot drift apart. ``origin``: the request's
    Origin header, needed only when the policy has an allow-list."""
    common = policy.authenticated if authenticated else policy.public
    allowed = policy.allowed_origins
    if allowed is None or origin not in allowed:
        return [*headers, *common, (_ECID, ecid)]
    return [*headers, *common, (_ALLOW_ORIGIN, origin), (_ECID, ecid)]


def request_origin(scope: Scope) -> bytes | None:
    for name, value in scope["headers"]:
        if name == b"origin":
            return bytes(value)
    return None


class ExecutionContextIds:
    """Fresh execution-context ids: a per-process random prefix and a counter (no uuid4 cost)."""

    def __init__(self) -> None:
        self._prefix = secrets.token_hex(6)
        self._counter = itertools.count(1)

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):010x}"


class ResponseHeadersMiddleware:
    def __init__(
        self, app: ASGIApp, policy: HeaderPolicy, ecids: ExecutionContextIds | None = None
    ) -> None:
        self.app = app
        self.policy = policy
        # Shared with the job-status fast path, so that ECIDs stay unique in the process.
        self.ecids = ecids or ExecutionContextIds()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ecid = self.ecids.next().encode()
        origin = None if self.policy.allowed_origins is None else request_origin(scope)
        if scope["method"] == "OPTIONS":
            common = with_common_headers((), ecid, self.policy, authenticated=False, origin=origin)
            await _answer_preflight(send, common)
            return
        path = scope["path"]
        authenticated = path not in PUBLIC_PATHS and not path.startswith(PUBLIC_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = message.get("headers", ())
                if authenticated:  # no-store wins over a route's own, looser, Cache-Control
                    own = [header for header in own if header[0] != b"cache-control"]
                message["headers"] = with_common_headers(
                    own, ecid, self.policy, authenticated=authenticated, origin=origin
                )
            await send(message)

        with structlog.contextvars.bound_contextvars(ecid=ecid.decode()):
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


_REPEATED_SLASHES = re.compile(r"/{2,}")
_REPEATED_SLASH_BYTES = re.compile(rb"/{2,}")


def with_single_slashes(scope: Scope) -> Scope:
    """The scope, its path's runs of slashes made one: a client whose base URL ends with ``/``
    asks for ``//paas/api/...`` and must get what ``/paas/api/...`` answers. Runs before the
    fast path and routing alike, so both see the same path; the scope is copied only when it
    changes."""
    path = scope.get("path", "")
    if "//" not in path:
        return scope
    scope = {**scope, "path": _REPEATED_SLASHES.sub("/", path)}
    raw_path = scope.get("raw_path")
    if raw_path:
        scope["raw_path"] = _REPEATED_SLASH_BYTES.sub(b"/", raw_path)
    return scope
