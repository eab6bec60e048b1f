"""Personal API tokens (our extension, under the activitylog prefix): a user creates, lists and
revokes its own; an admin those of every user of the domain. A token's secret is shown once,
in the answer that creates it."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from activitylog import errors
from activitylog.client import paths
from activitylog.domain import audit
from activitylog.domain.dates import now_ms
from activitylog.http.audit import actor_of, log_event
from activitylog.http.auth import ROLES, Principal
from activitylog.http.bearer import new_secret, secret_hash
from activitylog.http.bodies import NewTokenBody, TokenBody, TokenList, encode, token_fields
from activitylog.http.context import AppContext, authenticate, parse_id, read_json_object, route
from activitylog.store.records import ApiToken, AuditRecord, NewToken

_JSON = "application/json"
_DAY_MS = 86_400_000
TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}")


async def list_tokens(request: Request) -> Response:
    """Admins: every token of the domain, or of ``?user=``; others: their own."""
    context, principal = await authenticate(request, "viewer")
    user_name = request.query_params.get("user")
    if principal.role != "admin":
        if user_name not in (None, principal.user_name):
            raise errors.PermissionDenied("Only an admin sees other users' API tokens.")
        user_name = principal.user_name
    owner_id = None
    if user_name is not None:
        user = await context.store.find_user(principal.domain_name, user_name)
        if user is None:  # an OIDC principal has no user, hence no tokens
            return _json(TokenList([]))
        owner_id = user.user_id
    tokens = await context.store.list_tokens(principal.domain_id, owner_id)
    return _json(TokenList([TokenBody(**token_fields(t)) for t in tokens]))


async def create_token(request: Request) -> Response:
    """A token for the caller, or (admins) for ``user``; its role at most that user's."""
    context, principal = await authenticate(request, "viewer")
    if principal.via != "password":
        raise errors.PermissionDenied(
            "Create API tokens with a password sign-in: a token cannot make more tokens."
        )
    body = await read_json_object(request, context.settings.max_body_bytes)
    user_name = body.get("user", principal.user_name)
    if user_name != principal.user_name:
        principal.require("admin")
    new = await _new_token(context, principal, user_name, body)
    secret = new_secret()
    stored = NewToken(
        principal.domain_id, new.user_name, new.name, new.role, secret_hash(secret), new.expires_at
    )
    token = await context.store.create_token(stored, actor_of(request, principal))
    _log(request, principal, audit.TOKEN_CREATED, token)
    answer = NewTokenBody(**token_fields(token), token=secret)
    return Response(encode(answer), 201, media_type=_JSON)


async def revoke_token(request: Request) -> Response:
    """Admins revoke any token of the domain; others only their own."""
    context, principal = await authenticate(request, "viewer")
    token_id = parse_id(request.path_params["tokenId"], "tokenId")
    owner_id = None if principal.role == "admin" else principal.user_id
    token = await context.store.revoke_token(
        principal.domain_id, token_id, actor_of(request, principal), owner_id=owner_id
    )
    # This process stops trusting it now; the others once they see the credentials version.
    context.authenticator.forget_user(token.user_id)
    _log(request, principal, audit.TOKEN_REVOKED, token)
    return Response(status_code=204)


async def _new_token(
    context: AppContext, principal: Principal, user_name: object, body: dict[str, object]
) -> NewToken:
    """The token asked for, checked: every problem listed in one 400."""
    name, role = body.get("name"), body.get("role")
    days = body.get("expiresInDays", context.settings.token_default_days)
    if isinstance(days, float) and days.is_integer():
        days = int(days)  # 30.0 is a whole number to JSON Schema, hence to /openapi.json
    longest = context.settings.token_max_days
    issues = []
    if not isinstance(name, str) or not TOKEN_NAME.fullmatch(name):
        issues.append(
            "name: expected 1 to 100 letters, digits, spaces or . _ @ -, starting with a "
            "letter or digit"
        )
    if role is not None and role not in ROLES:
        issues.append(f"role: expected one of {', '.join(ROLES)}")
    if type(days) is not int or not 1 <= days <= longest:
        issues.append(f"expiresInDays: expected a whole number from 1 to {longest}")
    if not isinstance(user_name, str):
        issues.append("user: expected a user name")
    if issues or not (isinstance(name, str) and isinstance(user_name, str) and type(days) is int):
        raise errors.InvalidRequest("The API token is not valid.", issues)
    user = await context.store.find_user(principal.domain_name, user_name)
    if user is None:
        raise errors.NotFound(f"No user [{user_name}] in this identity domain.")
    granted = str(role or user.role)
    if ROLES.index(granted) > ROLES.index(user.role):
        raise errors.InvalidRequest(
            "The API token is not valid.", [f"role: at most the user's own role, {user.role}"]
        )
    return NewToken(principal.domain_id, user_name, name, granted, "", now_ms() + days * _DAY_MS)


def _log(request: Request, principal: Principal, kind: str, token: ApiToken) -> None:
    details = {"tokenId": token.token_id, "name": token.name}
    record = AuditRecord(
        principal.domain_id, kind, actor_of(request, principal), token.user_name, details
    )
    log_event(principal.domain_name, record)


def _json(body: TokenList) -> Response:
    return Response(encode(body), media_type=_JSON)


routes = [
    route(paths.TOKENS, {"GET": list_tokens, "POST": create_token}),
    route(paths.TOKEN, {"DELETE": revoke_token}),
]
