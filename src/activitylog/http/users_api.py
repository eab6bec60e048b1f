"""User management for a domain's admins: our extension, under the activitylog prefix.

``add_user``, ``change_user`` and ``remove_user`` write each change once, with its checks, its
password hashing, its audit event and the forgetting of cached credentials: the API's routes
here and the console's Users page both go through them.
"""

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
    user = await add_user(request, context, principal, name, password, role)
    return Response(encode(UserBody(user.name, user.role)), 201, media_type=_JSON)


async def put_user(request: Request) -> Response:
    """Create the user, or change its password and/or role."""
    context, principal = await authenticate(request, "admin")
    body = await read_json_object(request, context.settings.max_body_bytes)
    name: str = request.path_params["name"]
    password, role = body.get("password"), body.get("role")
    _raise_if_invalid(name, password, role)
    existing = await context.store.find_user(principal.domain_name, name)
    if existing is None:
        if password is None:
            # Without a password the request can only change a user, and there is none:
            # a 404, as /openapi.json says (a 400 would call a valid body invalid).
            raise errors.NotFound(
                f"No user [{name}] in identity domain [{principal.domain_name}]; a new "
                "user needs a password."
            )
        user = await add_user(request, context, principal, name, password, role)
        status = 201
    else:
        user = await change_user(request, context, principal, name, password=password, role=role)
        status = 200
    return Response(encode(UserBody(user.name, user.role)), status, media_type=_JSON)


async def delete_user(request: Request) -> Response:
    context, principal = await authenticate(request, "admin")
    await remove_user(request, context, principal, request.path_params["name"])
    return Response(status_code=204)


async def add_user(
    request: Request,
    context: AppContext,
    principal: Principal,
    name: str,
    password: object,
    role: object,
) -> User:
    """Create the user in ``principal``'s domain (viewer unless ``role`` says otherwise) and
    record it. Raises InvalidRequest for a field the API refuses (a password is required), and
    Conflict when the name is taken."""
    hashed = await _hashed_password(name, password, role)
    if hashed is None:
        raise errors.InvalidRequest("The user is not valid.", ["password: required"])
    try:
        user = await context.store.create_user(
            principal.domain_name, name, hashed, str(role or "viewer")
        )
    except errors.Conflict:
        raise errors.Conflict(
            f"User [{name}] exists already in identity domain [{principal.domain_name}]."
        ) from None
    await record_event(context.store, request, principal, audit.USER_CREATED, name, role=user.role)
    return user


async def change_user(
    request: Request,
    context: AppContext,
    principal: Principal,
    name: str,
    *,
    password: object = None,
    role: object = None,
) -> User:
    """Give the user a new password and/or role, and record it. The store moves the user's
    credential_version, which ends its console sessions and its cached credentials everywhere.
    Raises InvalidRequest, NotFound, and LastAdmin when this would leave the domain no admin."""
    hashed = await _hashed_password(name, password, role)
    user = await context.store.update_user(
        principal.domain_name,
        name,
        password_hash=hashed,
        role=None if role is None else str(role),
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
    return user


async def remove_user(
    request: Request, context: AppContext, principal: Principal, name: str
) -> None:
    """Delete the user and record it. Raises NotFound, and LastAdmin for the last admin."""
    user = await context.store.find_user(principal.domain_name, name)
    if user is None:
        raise errors.NotFound(f"No user [{name}] in identity domain [{principal.domain_name}].")
    await context.store.delete_user(principal.domain_name, name)
    context.authenticator.forget_user(user.user_id)
    await record_event(context.store, request, principal, audit.USER_DELETED, name)


async def _hashed_password(name: str, password: object, role: object) -> str | None:
    """The password's hash (None without one), once the fields are known to be valid. argon2
    takes a fifth of a second of CPU: it runs on a thread, not on the event loop."""
    _raise_if_invalid(name, password, role)
    if not isinstance(password, str) or not password:
        return None
    return await asyncio.to_thread(password_hasher().hash, password)


def _raise_if_invalid(name: str, password: object, role: object) -> None:
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
    if issues:
        raise errors.InvalidRequest("The user is not valid.", issues)


routes = [
    route(paths.USERS, {"GET": list_users, "POST": post_user}),
    route(paths.USER, {"PUT": put_user, "DELETE": delete_user}),
]
