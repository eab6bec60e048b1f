"""User management for a domain's admins: our extension, under the activitylog prefix."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from activitylog import errors
from activitylog.client import paths
from activitylog.domain import audit
from activitylog.domain.names import check_user_name
from activitylog.http.audit import record_event
from activitylog.http.auth import ROLES, Principal
from activitylog.http.bodies import UserBody, UserList, encode
from activitylog.http.context import AppContext, authenticate, read_json_object, route
from activitylog.passwords import password_hasher
from activitylog.store.records import User

_JSON = "application/json"
MIN_PASSWORD_LENGTH = 8


async def list_users(request: Request) -> Response:
    context, principal = await authenticate(request, "admin")
    users = await context.store.list_users(principal.domain_name)
    return Response(encode(UserList([UserBody(u.name, u.role) for u in users])), media_type=_JSON)


async def post_user(request: Request) -> Response:
    """Create the user named in the body; 409 when it exists (PUT would change it instead)."""
    context, principal = await authenticate(request, "admin")
    body = await read_json_object(request, context.settings.max_body_bytes)
    name, password, role = body.get("name"), body.get("password"), body.get("role")
    if not isinstance(name, str):
        raise errors.InvalidRequest("The user is not valid.", ["name: required, a string"])
    hashed = await _hashed_password(name, password, role)
    if hashed is None:
        raise errors.InvalidRequest("The user is not valid.", ["password: required"])
    try:
        user = await _create_user(request, context, principal, name, hashed, role)
    except errors.Conflict:
        raise errors.Conflict(
            f"User [{name}] exists already in identity domain [{principal.domain_name}]."
        ) from None
    return Response(encode(UserBody(user.name, user.role)), 201, media_type=_JSON)


async def put_user(request: Request) -> Response:
    """Create the user, or change its password and/or role."""
    context, principal = await authenticate(request, "admin")
    body = await read_json_object(request, context.settings.max_body_bytes)
    name: str = request.path_params["name"]
    password, role = body.get("password"), body.get("role")
    hashed = await _hashed_password(name, password, role)
    existing = await context.store.find_user(principal.domain_name, name)
    if existing is None:
        if hashed is None:
            # Without a password the request can only change a user, and there is none:
            # a 404, as /openapi.json says (a 400 would call a valid body invalid).
            raise errors.NotFound(
                f"No user [{name}] in identity domain [{principal.domain_name}]; a new "
                "user needs a password."
            )
        user = await _create_user(request, context, principal, name, hashed, role)
        status = 201
    else:
        user = await context.store.update_user(
            principal.domain_name, name, password_hash=hashed, role=role
        )
        context.authenticator.forget_user(user.user_id)
        await record_event(
            context.store,
            request,
            principal,
            audit.USER_CHANGED,
            name,
            role=user.role,
            passwordChanged=hashed is not None,
        )
        status = 200
    return Response(encode(UserBody(user.name, user.role)), status, media_type=_JSON)


async def delete_user(request: Request) -> Response:
    context, principal = await authenticate(request, "admin")
    name = request.path_params["name"]
    user = await context.store.find_user(principal.domain_name, name)
    if user is None:
        raise errors.NotFound(f"No user [{name}] in identity domain [{principal.domain_name}].")
    await context.store.delete_user(principal.domain_name, name)
    context.authenticator.forget_user(user.user_id)
    await record_event(context.store, request, principal, audit.USER_DELETED, name)
    return Response(status_code=204)


async def _hashed_password(name: str, password: object, role: object) -> str | None:
    """The password's hash (None without one), once the fields are known to be valid."""
    issues = _check_user_fields(name, password, role)
    if issues:
        raise errors.InvalidRequest("The user is not valid.", issues)
    if not isinstance(password, str) or not password:
        return None
    return await asyncio.to_thread(password_hasher().hash, password)


async def _create_user(
    request: Request,
    context: AppContext,
    principal: Principal,
    name: str,
    hashed: str,
    role: object,
) -> User:
    user = await context.store.create_user(
        principal.domain_name, name, hashed, str(role or "viewer")
    )
    await record_event(context.store, request, principal, audit.USER_CREATED, name, role=user.role)
    return user


def _check_user_fields(name: str, password: object, role: object) -> list[str]:
    issues = []
    name_problem = check_user_name(name)
    if name_problem:
        issues.append(f"name: {name_problem}")
    if password is not None and (
        not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH
    ):
        issues.append(f"password: expected a string of at least {MIN_PASSWORD_LENGTH} characters")
    if role is not None and role not in ROLES:
        issues.append(f"role: expected one of {', '.join(ROLES)}")
    return issues


routes = [
    route(paths.USERS, {"GET": list_users, "POST": post_user}),
    route(paths.USER, {"PUT": put_user, "DELETE": delete_user}),
]
