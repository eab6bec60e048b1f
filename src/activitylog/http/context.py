"""What the routes share: the store, the service types, the authenticator and a few helpers."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitylog import errors
from activitylog.domain.search import parse_whole_number
from activitylog.http import audit
from activitylog.http.access_log import remember_principal
from activitylog.http.auth import Authenticator, Principal
from activitylog.http.domain_streams import DomainStreams
from activitylog.http.job_answers import JobAnswerCache
from activitylog.http.open_requests import OpenRequests
from activitylog.http.service_types import ServiceTypes
from activitylog.settings import Settings
from activitylog.store.base import Store

Endpoint = Callable[[Request], Awaitable[Response]]
_ACCEPTED_MEDIA_TYPES = (
    "application/json",
    "application/vnd.com.oracle.oracloud.provisioning.service+json",
)


@dataclasses.dataclass(frozen=True)
class AppContext:
    settings: Settings
    store: Store
    registry: ServiceTypes
    authenticator: Authenticator
    job_answers: JobAnswerCache
    domain_streams: DomainStreams
    open_requests: OpenRequests


def app_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


async def authenticate(request: Request, role: str) -> tuple[AppContext, Principal]:
    context = app_context(request)
    headers = request.headers
    domain, authorization = request.path_params["domain"], headers.get("authorization")
    try:
        principal = await context.authenticator.authenticate(
            domain,
            authorization,
            headers.get("x-id-tenant-name"),
            client=request.client.host if request.client else None,
        )
    except errors.AuthenticationFailed:
        if authorization:  # a sign-in that failed; no credentials at all is not one
            await audit.count_failed_sign_in(context.store, request, domain, authorization)
        raise
    remember_principal(request.scope, principal)
    # What the route logs from here on names who asked (never how they proved it).
    structlog.contextvars.bind_contextvars(domain=principal.domain_name, user=principal.user_name)
    principal.require(role)
    return context, principal


def route(path: str, endpoints: dict[str, Endpoint]) -> Route:
    """One route for every method of a path, so that a 405's Allow header lists them all."""

    async def by_method(request: Request) -> Response:
        method = "GET" if request.method == "HEAD" else request.method
        return await endpoints[method](request)

    return Route(path, by_method, methods=list(endpoints))


def parse_id(text: str, name: str) -> int:
    value = parse_whole_number(text)
    if value is None:
        raise errors.InvalidRequest(
            f"{name} must be a whole number, got {text[:40]!r}.", [f"{name}: expected an integer"]
        )
    return value


async def read_json_object(
    request: Request, max_bytes: int, *, allow_empty: bool = False
) -> dict[str, Any]:
    """The request body as a JSON object; raise a 4xx error for anything else."""
    _check_media_type(request.headers.get("content-type"))
    declared = parse_whole_number(request.headers.get("content-length", ""))
    if declared is not None and declared > max_bytes:
        raise errors.PayloadTooLarge(f"The body is larger than {max_bytes} bytes.")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise errors.PayloadTooLarge(f"The body is larger than {max_bytes} bytes.")
    if not body.strip():
        if allow_empty:
            return {}
        raise errors.InvalidRequest("The request needs a JSON body.", ["body: required"])
    value = _decode_json(body)
    if not isinstance(value, dict):
        raise errors.InvalidRequest("The body must be a JSON object.", ["body: expected an object"])
    return value


def _decode_json(body: bytes | bytearray) -> Any:
    try:
        return msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        # One wording for bad UTF-8, whichever way this msgspec reports it.
        problem = "not valid UTF-8" if "UTF-8" in str(exc) else str(exc)
    # Older msgspec lets these two through: bad UTF-8 inside a string, and deep nesting.
    except UnicodeDecodeError:
        problem = "not valid UTF-8"
    except RecursionError:
        problem = "nested too deeply"
    raise errors.InvalidRequest("The body is not valid JSON.", [f"body: {problem}"])


def _check_media_type(content_type: str | None) -> None:
    # Clients that send no Content-Type at all still get their JSON read.
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in _ACCEPTED_MEDIA_TYPES:
        raise errors.UnsupportedMediaType(
            f"Content-Type {media_type!r} is not supported; send application/json."
        )
