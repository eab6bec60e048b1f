"""Bearer credentials: personal API tokens, and OIDC JWTs when an issuer is configured
(http/oidc.py).

A personal token is 256 random bits, so it is checked by its SHA-256 (a microsecond), never by
a slow password hash. The tokens this process trusts are kept in memory, and dropped:

- at once, in this process, when it revokes a token or changes or deletes a user;
- within ``check_seconds`` in every other process: each reads the store's credentials version
  (credentials_version.py) at most that often, and drops them all when it moved.

A token's role is capped by its user's role as read with it, so a demotion caps it as soon as
the version moves. Its last use is written at most once per ``use_interval`` per process.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING

import structlog

from activitylog import errors
from activitylog.domain.dates import now_ms
from activitylog.http.auth import ROLES, Principal
from activitylog.http.credentials_version import CredentialsVersion
from activitylog.store.base import Store
from activitylog.store.records import TokenGrant

if TYPE_CHECKING:
    from activitylog.http.oidc import OidcVerifier

log = structlog.get_logger("activitylog.http")

SECRET_PREFIX = "altk_"  # noqa: S105 - a prefix, not a secret
"""Marks our tokens, so that secret scanners (and people) can tell them apart."""
_MAX_ENTRIES = 10_000


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def capped_role(token_role: str, user_role: str) -> str:
    """The lower of the two roles: a token never does more than its user may now."""
    return min(token_role, user_role, key=ROLES.index)


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith(SECRET_PREFIX)


class BearerAuthenticator:
    def __init__(
        self,
        store: Store,
        *,
        check_seconds: float = 0.5,
        use_interval: float = 60.0,
        oidc: OidcVerifier | None = None,
    ) -> None:
        self._store = store
        self.version = CredentialsVersion(store, check_seconds=check_seconds)
        """Shared with the password side (auth.Authenticator), which re-checks on it too."""
        self.version.on_change(self.forget_all)
        self._use_interval_ms = int(use_interval * 1000)
        self._oidc = oidc
        self._trusted: dict[str, TokenGrant] = {}
        # Bumped whenever trusted tokens are dropped: a read that overlapped the drop may have
        # seen the token before its revocation, so its result must not be kept.
        self._generation = 0
        self._use_recorded: dict[int, int] = {}

    async def authenticate(self, path_domain: str, token: str) -> Principal:
        if self._oidc is not None and looks_like_jwt(token):
            return await self._oidc.authenticate(path_domain, token)
        await self.version.refresh()
        digest = secret_hash(token)
        grant = self._trusted.get(digest)
        if grant is None:
            generation = self._generation
            grant = await self._store.find_token(digest)
            if grant is None:
                raise errors.AuthenticationFailed("The API token is not valid.")
            if generation == self._generation:
                self._trust(digest, grant)
        principal = _principal(path_domain, grant)
        await self._record_use(grant)
        return principal

    def cached(self, path_domain: str, token: str) -> Principal | None:
        """The principal ``authenticate`` would return without awaiting anything, else None."""
        if self._oidc is not None and looks_like_jwt(token):
            return self._oidc.cached(path_domain, token)
        if self.version.due():
            return None
        grant = self._trusted.get(secret_hash(token))
        if grant is None or self._use_due(grant):
            return None
        try:
            return _principal(path_domain, grant)
        except errors.AuthenticationFailed:
            return None

    def trusts(self, path_domain: str, token: str) -> bool:
        """Whether this process already trusts the token (it was found since the last change of
        credentials, or the JWT was checked): the failed-authentication limits let it through."""
        if self._oidc is not None and looks_like_jwt(token):
            return self._oidc.cached(path_domain, token) is not None
        return secret_hash(token) in self._trusted

    def forget_all(self) -> None:
        """Drop every trusted token (after this process revoked one, or changed a user)."""
        self._generation += 1
        self._trusted.clear()

    def _trust(self, digest: str, grant: TokenGrant) -> None:
        if len(self._trusted) >= _MAX_ENTRIES:
            self._trusted.pop(next(iter(self._trusted)))
        self._trusted[digest] = grant

    def _use_due(self, grant: TokenGrant) -> bool:
        recorded = self._use_recorded.get(grant.token_id, grant.last_used_at or 0)
        return now_ms() - recorded >= self._use_interval_ms

    async def _record_use(self, grant: TokenGrant) -> None:
        """Write the token's last use when the last one written is ``use_interval`` old: a
        write a minute per token, not one per request."""
        if not self._use_due(grant):
            return
        self._use_recorded[grant.token_id] = now_ms()
        try:
            await self._store.record_token_use([grant.token_id])
        except errors.StoreUnavailable as exc:  # the request itself need not fail for it
            log.warning("could not record an API token's use", error=exc.message)


def _principal(path_domain: str, grant: TokenGrant) -> Principal:
    if grant.domain_name != path_domain:
        raise errors.AuthenticationFailed(
            f"The API token is not valid in identity domain [{path_domain}]."
        )
    if grant.expires_at <= now_ms():
        raise errors.AuthenticationFailed("The API token has expired.")
    return Principal(
        grant.user_id,
        grant.domain_id,
        grant.domain_name,
        grant.user_name,
        capped_role(grant.token_role, grant.user_role),
        via="token",
    )
