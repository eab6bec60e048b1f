"""HTTP Basic authentication against the users of the path's identity domain.

An argon2 verify costs about 180 ms, so a verified credential is remembered: the cache key is
a keyed BLAKE2b digest of (domain, Authorization header) under a per-process random key, so
the cache never holds a password, and a leaked digest cannot be replayed or brute-forced
offline. Entries expire after ``ttl`` seconds and are dropped at once when this process
changes the user; other processes pick the change up when their entry expires.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import functools
import hashlib
import secrets
import time
from typing import TYPE_CHECKING

import argon2
import argon2.exceptions

from activitylog import errors
from activitylog.store.base import Store

if TYPE_CHECKING:
    from activitylog.http.bearer import BearerAuthenticator

ROLES = ("viewer", "operator", "admin")
_ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
_MAX_ENTRIES = 10_000


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


class Authenticator:
    def __init__(
        self, store: Store, *, ttl: float = 60.0, bearer: BearerAuthenticator | None = None
    ) -> None:
        self._store = store
        self._bearer = bearer
        self._ttl = ttl
        self._key = secrets.token_bytes(32)
        self._pending: dict[bytes, asyncio.Future[Principal]] = {}
        self._cache: dict[bytes, tuple[Principal, float]] = {}
        # Bumped by forget_user: a verify that overlapped a user change may have checked the old
        # password, so its result must not be cached.
        self._generation = 0
        self._verifier = argon2.PasswordHasher()
        # argon2 is CPU- and memory-heavy; two at a time keeps a flood of bad passwords from
        # starving everything else.
        self._verify_slots = asyncio.Semaphore(2)

    async def authenticate(
        self, path_domain: str, authorization: str | None, tenant: str | None
    ) -> Principal:
        if tenant is not None and tenant != path_domain:
            raise errors.AuthenticationFailed(
                f"X-ID-TENANT-NAME [{tenant}] does not match the identity domain in the path "
                f"[{path_domain}]."
            )
        if not authorization:
            raise errors.AuthenticationFailed(
                "Send HTTP Basic credentials (Authorization: Basic base64(user:password))."
            )
        bearer_token = _bearer_token(authorization)
        if bearer_token is not None and self._bearer is not None:
            return await self._bearer.authenticate(path_domain, bearer_token)
        key = self._cache_key(path_domain, authorization)
        cached = self._fresh(key)
        if cached is not None:
            return cached
        # Requests with the same credentials share one verify: when an entry expires under
        # load, 64 polls in flight would otherwise queue 64 argon2 runs of 200 ms each.
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._verify_and_cache(key, path_domain, authorization))
            self._pending[key] = pending
            pending.add_done_callback(lambda done: self._settled(key, done))
        return await asyncio.shield(pending)

    def cached(
        self, path_domain: str, authorization: str | None, tenant: str | None
    ) -> Principal | None:
        """The principal ``authenticate`` would return at once from its cache, or None when it
        would need to fail, verify or wait; no await, so the job-status fast path can ask."""
        if (tenant is not None and tenant != path_domain) or not authorization:
            return None
        bearer_token = _bearer_token(authorization)
        if bearer_token is not None and self._bearer is not None:
            return self._bearer.cached(path_domain, bearer_token)
        return self._fresh(self._cache_key(path_domain, authorization))

    def _fresh(self, key: bytes) -> Principal | None:
        cached = self._cache.get(key)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        return None

    def _cache_key(self, path_domain: str, authorization: str) -> bytes:
        return hashlib.blake2b(
            f"{path_domain}\0{authorization}".encode(), key=self._key, digest_size=16
        ).digest()

    def _settled(self, key: bytes, done: asyncio.Future[Principal]) -> None:
        self._pending.pop(key, None)
        if not done.cancelled():
            done.exception()  # retrieved here, so a failure nobody awaited is not logged

    async def _verify_and_cache(self, key: bytes, domain: str, authorization: str) -> Principal:
        generation = self._generation
        principal = await self._verify(domain, authorization)
        if generation != self._generation:
            return principal
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (principal, time.monotonic() + self._ttl)
        return principal

    def forget_user(self, user_id: int) -> None:
        """Drop every cached credential of this user (after a password or role change)."""
        self._generation += 1
        if self._bearer is not None:  # the user's tokens are capped by its role, or gone
            self._bearer.forget_all()
        stale = [key for key, (principal, _) in self._cache.items() if principal.user_id == user_id]
        for key in stale:
            del self._cache[key]

    async def _verify(self, domain: str, authorization: str) -> Principal:
        user_name, password = parse_basic(authorization)
        user = await self._store.find_user(domain, user_name)
        stored_hash = user.password_hash if user else _dummy_hash()
        async with self._verify_slots:
            valid = await asyncio.to_thread(self._check, stored_hash, password)
        if user is None or not valid:
            raise errors.AuthenticationFailed()
        return Principal(user.user_id, user.domain_id, user.domain_name, user.name, user.role)

    def _check(self, stored_hash: str, password: str) -> bool:
        try:
            return self._verifier.verify(stored_hash, password)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False


def _bearer_token(authorization: str) -> str | None:
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def parse_basic(authorization: str) -> tuple[str, str]:
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise errors.AuthenticationFailed("Send HTTP Basic credentials or a Bearer token.")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise errors.AuthenticationFailed("The Basic credentials are not valid base64.") from None
    user_name, separator, password = decoded.partition(":")
    if not separator or not user_name:
        raise errors.AuthenticationFailed("The Basic credentials must be user:password.")
    return user_name, password
