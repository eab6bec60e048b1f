"""Authentication against the users of the path's identity domain: HTTP Basic here, Bearer
credentials (API tokens, OIDC JWTs) in bearer.py, both under the failed-authentication limits
(auth_limits.py).

An argon2 verify costs about 200 ms of CPU, so a verified credential is remembered: the cache
key is a keyed BLAKE2b digest of (domain, Authorization header) under a per-process random key,
so the cache never holds a password, and a leaked digest cannot be replayed or brute-forced
offline. An entry is trusted for ``ttl`` seconds, and verified again in the background from
three quarters of that on, so that a client that keeps polling never waits for argon2. After
``ttl`` it is still known good for a day: verified again before it is trusted, but ahead of
unknown credentials (a lane of its own) and past the failed-authentication limits
(auth_limits.py), so that a flood of wrong passwords for a user name does not lock out the
clients already using the right one. Entries are dropped at once when this process changes
the user. A change made elsewhere (another process, `activitylog user passwd`) moves the
store's credentials version (credentials_version.py), read at most every half second: each
entry is then confirmed once against its user's own credential version, a point read, and
verified again only if that user changed.

A Bearer token names no user, so one that fails counts against its client address only; while
that address is banned, only the tokens this process already trusts are let through.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import functools
import hashlib
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import argon2
import argon2.exceptions

from activitylog import errors
from activitylog.http.auth_limits import FailedAuthenticationLimits, FailureLimitSettings
from activitylog.http.credentials_version import CredentialsVersion
from activitylog.settings import Settings
from activitylog.store.base import Store

if TYPE_CHECKING:
    from activitylog.http.bearer import BearerAuthenticator

ROLES = ("viewer", "operator", "admin")
_ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
_MAX_ENTRIES = 10_000
_REFRESH_FROM = 0.75
"""Of an entry's ttl: from then on, a request it answers starts a verify in the background."""
_KNOWN_GOOD_SECONDS = 24 * 3600
# argon2 is CPU- and memory-heavy: two at a time per lane keeps a flood of bad passwords from
# starving everything else, and known-good credentials have a lane of their own beside it.
_VERIFIES_PER_LANE = 2


# Hashing a password nobody has keeps a failed look-up as slow as a failed verify, so the
# timing does not tell which user names exist.
@functools.cache
def _dummy_hash() -> str:
    return argon2.PasswordHasher().hash(secrets.token_hex(8))


@dataclasses.dataclass(frozen=True, slots=True)
class Principal:
    user_id: int
    domain_id: int
    domain_name: str
    user_name: str
    role: str
    via: str = "password"
    """How the request proved who it is: "password" (Basic), "token" or "oidc" (Bearer)."""

    def require(self, role: str) -> None:
        if _ROLE_RANK[self.role] < _ROLE_RANK[role]:
            raise errors.PermissionDenied(
                f"User [{self.user_name}] has role {self.role}; this request needs {role}."
            )


@dataclasses.dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    refresh_at: float
    expires_at: float
    known_until: float
    user_version: int
    """The user's credential_version when the password was verified."""
    confirmed_at: int | None
    """The store's credentials version when the entry was last verified or confirmed."""


class Authenticator:
    def __init__(
        self,
        store: Store,
        *,
        ttl: float = 60.0,
        bearer: BearerAuthenticator | None = None,
        limits: FailedAuthenticationLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._bearer = bearer
        self.version = bearer.version if bearer is not None else CredentialsVersion(store)
        self._ttl = ttl
        self.limits = limits or FailedAuthenticationLimits(clock=clock)
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self._pending: dict[bytes, asyncio.Future[Principal]] = {}
        self._cache: dict[bytes, _Verified] = {}
        # Bumped by forget_user: a verify that overlapped a user change may have checked the old
        # password, so its result must not be cached.
        self._generation = 0
        self._verifier = argon2.PasswordHasher()
        self._unknown_lane = asyncio.Semaphore(_VERIFIES_PER_LANE)
        self._known_lane = asyncio.Semaphore(_VERIFIES_PER_LANE)

    @classmethod
    def for_settings(
        cls, store: Store, settings: Settings, bearer: BearerAuthenticator | None = None
    ) -> Authenticator:
        limits = FailedAuthenticationLimits(FailureLimitSettings.from_settings(settings))
        return cls(store, ttl=settings.credential_cache_ttl, bearer=bearer, limits=limits)

    async def authenticate(
        self,
        path_domain: str,
        authorization: str | None,
        tenant: str | None,
        *,
        client: str | None = None,
    ) -> Principal:
        """The request's principal; ``client`` is its address, for the failure limits."""
        authorization = _require_credentials(path_domain, authorization, tenant)
        bearer_token = _bearer_token(authorization)
        if bearer_token is not None and self._bearer is not None:
            return await self._authenticate_bearer(self._bearer, path_domain, bearer_token, client)
        key = self._cache_key(path_domain, authorization)
        await self.version.refresh()
        entry = await self._confirmed(key, self._cache.get(key))
        now = self._clock()
        if entry is not None and now < entry.expires_at:
            self._refresh_if_due(key, entry, path_domain, authorization, now)
            return entry.principal
        known_good = entry is not None and now < entry.known_until
        try:
            pending = self._pending_verify(key, path_domain, authorization, known_good, client)
        except errors.TooManyAuthenticationFailures as refusal:
            await self._hold(refusal)
            raise
        return await asyncio.shield(pending)

    async def _authenticate_bearer(
        self, bearer: BearerAuthenticator, domain: str, token: str, client: str | None
    ) -> Principal:
        """A token that fails counts against the client address: it names no user, and each
        unknown one costs a read of the store. A token this process trusts skips the limits,
        as known-good passwords do."""
        if not bearer.trusts(domain, token):
            try:
                self.limits.refuse_if_banned(client)
            except errors.TooManyAuthenticationFailures as refusal:
                await self._hold(refusal)
                raise
        try:
            return await bearer.authenticate(domain, token)
        except errors.AuthenticationFailed:
            self.limits.count_failure(client)
            raise

    async def _hold(self, refusal: errors.TooManyAuthenticationFailures) -> None:
        await asyncio.sleep(self.limits.refusal_hold(refusal.retry_after_seconds))

    def _pending_verify(
        self, key: bytes, domain: str, authorization: str, known_good: bool, client: str | None
    ) -> asyncio.Future[Principal]:
        """The verify to wait for, started if need be; raise 429 when the limits refuse it."""
        user_name = None if known_good else parse_basic(authorization)[0]
        if user_name is not None:
            self.limits.refuse_if_banned(client, domain, user_name)
        # Requests with the same credentials share one verify: when an entry expires under
        # load, 64 polls in flight would otherwise queue 64 argon2 runs of 200 ms each.
        pending = self._pending.get(key)
        if pending is None:
            end_attempt = None
            if user_name is not None:
                # Counted before the verify starts: failures and verifies under way together
                # stay within the limits, so a burst cannot queue more argon2 runs than they.
                end_attempt = self.limits.admit(client, domain, user_name)
            pending = self._start_verify(key, domain, authorization, known_good=known_good)
            pending.add_done_callback(lambda done: self._settled(key, done, end_attempt))
        return pending

    def cached(
        self, path_domain: str, authorization: str | None, tenant: str | None
    ) -> Principal | None:
        """The principal ``authenticate`` would return at once from its cache, or None when it
        would need to fail, verify or wait; no await, so the job-status fast path can ask."""
        if (tenant is not None and tenant != path_domain) or not authorization:
            return None
        # This runs on every job-status poll: Basic credentials skip the Bearer test, and the
        # cheap comparisons come before the calls (the clock's, the version's).
        if self._bearer is not None and not authorization.startswith("Basic "):
            bearer_token = _bearer_token(authorization)
            if bearer_token is not None:
                return self._bearer.cached(path_domain, bearer_token)
        key = self._cache_key(path_domain, authorization)
        entry = self._cache.get(key)
        if entry is None or entry.confirmed_at != self.version.value:
            return None
        now = self._clock()
        if now >= entry.expires_at or self.version.due():
            return None
        if now >= entry.refresh_at:
            self._refresh_if_due(key, entry, path_domain, authorization, now)
        return entry.principal

    async def _confirmed(self, key: bytes, entry: _Verified | None) -> _Verified | None:
        """The entry, if its user has not changed since the store's credentials version last
        moved (one point read, no argon2); None when it changed, was deleted, or is unknown."""
        if entry is None or entry.confirmed_at == self.version.value:
            return entry
        confirmed_at = self.version.value
        principal = entry.principal
        user = await self._store.find_user(principal.domain_name, principal.user_name)
        if user is None or user.credential_version != entry.user_version:
            if self._cache.get(key) is entry:
                del self._cache[key]
            return None
        entry = dataclasses.replace(entry, confirmed_at=confirmed_at)
        if key in self._cache:
            self._cache[key] = entry
        return entry

    def _refresh_if_due(
        self, key: bytes, entry: _Verified, domain: str, authorization: str, now: float
    ) -> None:
        if now >= entry.refresh_at and key not in self._pending:
            refresh = self._start_verify(key, domain, authorization, known_good=True)
            refresh.add_done_callback(lambda done: self._settled(key, done, None))

    def _start_verify(
        self, key: bytes, domain: str, authorization: str, *, known_good: bool
    ) -> asyncio.Future[Principal]:
        lane = self._known_lane if known_good else self._unknown_lane
        pending = asyncio.ensure_future(self._verify_and_cache(key, domain, authorization, lane))
        self._pending[key] = pending
        return pending

    def _cache_key(self, path_domain: str, authorization: str) -> bytes:
        return hashlib.blake2b(
            f"{path_domain}\0{authorization}".encode(), key=self._key, digest_size=16
        ).digest()

    def _settled(
        self,
        key: bytes,
        done: asyncio.Future[Principal],
        end_attempt: Callable[[bool], None] | None,
    ) -> None:
        self._pending.pop(key, None)
        # Retrieved here, so that a failure nobody awaited (a refresh's) is not logged.
        failure = None if done.cancelled() else done.exception()
        if end_attempt is not None:
            end_attempt(isinstance(failure, errors.AuthenticationFailed))

    async def _verify_and_cache(
        self, key: bytes, domain: str, authorization: str, lane: asyncio.Semaphore
    ) -> Principal:
        generation, confirmed_at = self._generation, self.version.value
        try:
            principal, user_version = await self._verify(domain, authorization, lane)
        except errors.AuthenticationFailed:
            self._cache.pop(key, None)  # the password changed elsewhere: no longer known good
            raise
        if generation != self._generation:
            return principal
        self._remember(key, principal, user_version, confirmed_at)
        return principal

    def _remember(
        self, key: bytes, principal: Principal, user_version: int, confirmed_at: int | None
    ) -> None:
        now = self._clock()
        self._cache.pop(key, None)  # re-inserted last: the oldest entries are evicted first
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = _Verified(
            principal,
            refresh_at=now + self._ttl * _REFRESH_FROM,
            expires_at=now + self._ttl,
            known_until=now + max(self._ttl, _KNOWN_GOOD_SECONDS),
            user_version=user_version,
            confirmed_at=confirmed_at,
        )

    def forget_user(self, user_id: int) -> None:
        """Drop every cached credential of this user (after a password or role change)."""
        self._generation += 1
        if self._bearer is not None:  # the user's tokens are capped by its role, or gone
            self._bearer.forget_all()
        stale = [key for key, entry in self._cache.items() if entry.principal.user_id == user_id]
        for key in stale:
            del self._cache[key]

    async def _verify(
        self, domain: str, authorization: str, lane: asyncio.Semaphore
    ) -> tuple[Principal, int]:
        """The principal, and the user's credential version that the password was checked
        against."""
        user_name, password = parse_basic(authorization)
        user = await self._store.find_user(domain, user_name)
        stored_hash = user.password_hash if user else _dummy_hash()
        async with lane:
            valid = await asyncio.to_thread(self._check, stored_hash, password)
        if user is None or not valid:
            raise errors.AuthenticationFailed()
        principal = Principal(user.user_id, user.domain_id, user.domain_name, user.name, user.role)
        return principal, user.credential_version

    def _check(self, stored_hash: str, password: str) -> bool:
        try:
            return self._verifier.verify(stored_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False


def _require_credentials(path_domain: str, authorization: str | None, tenant: str | None) -> str:
    if tenant is not None and tenant != path_domain:
        raise errors.AuthenticationFailed(
            f"X-ID-TENANT-NAME [{tenant}] does not match the identity domain in the path "
            f"[{path_domain}]."
        )
    if not authorization:
        raise errors.AuthenticationFailed(
            "Send HTTP Basic credentials (Authorization: Basic base64(user:password))."
        )
    return authorization


def _bearer_token(authorization: str) -> str | None:
    # Most requests carry Basic credentials: tell them apart by the first letters, before
    # splitting anything (this runs on every job-status poll, the fast path's included).
    if authorization[:6].lower() != "bearer":
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def parse_basic(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise errors.AuthenticationFailed("Send HTTP Basic credentials or a Bearer token.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    # b64decode raises a bare ValueError, not binascii.Error, for a non-ASCII character; the
    # server hands header values over as latin-1, so any byte above 0x7f reaches it as one.
    except ValueError:
        raise errors.AuthenticationFailed("The Basic credentials are not valid base64.") from None
    user_name, separator, password = decoded.partition(":")
    if not separator or not user_name:
        raise errors.AuthenticationFailed("The Basic credentials must be user:password.")
    return user_name, password
