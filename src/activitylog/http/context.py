"""What the routes share: the store, the service types, the authenticator and a few helpers."""

from __future__ import annotations

import collections
import dataclasses
from typing import Any

import msgspec
from starlette.requests import Request

from activitylog import errors
from activitylog.engine.handlers import ServiceTypeRegistry
from activitylog.http.auth import Authenticator, Principal
from activitylog.settings import Settings
from activitylog.store.base import Store

_MAX_ID = 2**63 - 1
_ACCEPTED_MEDIA_TYPES = (
    "application/json",
    "application/vnd.com.oracle.oracloud.provisioning.service+json",
)


class EndedJobBodies:
    """Encoded bodies of ended jobs, which never change again: a bounded LRU."""

    def __init__(self, capacity: int = 50_000) -> None:
        self._capacity = capacity
        self._bodies: collections.OrderedDict[tuple[int, int], bytes] = collections.OrderedDict()

    def get(self, domain_id: int, job_id: int) -> bytes | None:
        body = self._bodies.get((domain_id, job_id))
        if body is not None:
            self._bodies.move_to_end((domain_id, job_id))
        return body

    def put(self, domain_id: int, job_id: int, body: bytes) -> None:
        self._bodies[(domain_id, job_id)] = body
        if len(self._bodies) > self._capacity:
            self._bodies.popitem(last=False)


@dataclasses.dataclass(frozen=True)
class AppContext:
    settings: Settings
    store: Store
    registry: ServiceTypeRegistry
    authenticator: Authenticator
    ended_jobs: EndedJobBodies


def app_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


async def authenticate(request: Request, role: str) -> tuple[AppContext, Principal]:
    context = app_context(request)
    headers = request.headers
    principal = await context.authenticator.authenticate(
        request.path_params["domain"], headers.get("authorization"), headers.get("x-id-tenant-name")
    )
    principal.require(role)
    return context, principal


def parse_id(text: str, name: str) -> int:
    if not (text.isascii() and text.isdigit()) or int(text) > _MAX_ID:
        raise errors.InvalidRequest(
            f"{name} must be a whole number, got {text!r}.", [f"{name}: expected an integer"]
        )
    return int(text)


async def read_json_object(
    request: Request, max_bytes: int, *, allow_empty: bool = False
) -> dict[str, Any]:
    """The request body as a JSON object; raise a 4xx error for anything else."""
    _check_media_type(request.headers.get("content-type"))
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
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
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise errors.InvalidRequest("The body is not valid JSON.", [f"body: {exc}"]) from None
    if not isinstance(value, dict):
        raise errors.InvalidRequest("The body must be a JSON object.", ["body: expected an object"])
    return value


def _check_media_type(content_type: str | None) -> None:
    # Clients that send no Content-Type at all still get their JSON read.
    if content_type is None:
        return
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type not in _ACCEPTED_MEDIA_TYPES:
        raise errors.UnsupportedMediaType(
            f"Content-Type {media_type!r} is not supported; send application/json."
        )
