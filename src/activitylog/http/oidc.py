"""OIDC: JWTs from one configured issuer, as Bearer credentials.

A JWT is checked against the issuer's published keys (its JWKS, fetched and cached by PyJWT's
PyJWKClient, off the event loop), its issuer, audience and expiry; then one claim names the
identity domain it is good for, one the role, one the user. A checked JWT is trusted for at
most ``ttl`` seconds (and never past its expiry), so that each is verified about once a minute.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from typing import Any

import jwt

from activitylog import errors
from activitylog.http.auth import ROLES, Principal
from activitylog.settings import Settings
from activitylog.store.base import Store

_MAX_ENTRIES = 10_000
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "PS256")
"""Public-key algorithms only: a shared-secret one (HS256) would let anyone holding the JWKS'
public key sign tokens."""


class OidcVerifier:
    def __init__(
        self,
        store: Store,
        *,
        issuer: str,
        audience: str,
        jwks_url: str,
        domain_claim: str = "activitylog_domain",
        role_claim: str = "activitylog_role",
        user_claim: str = "sub",
        ttl: float = 60.0,
    ) -> None:
        self._store = store
        self._issuer = issuer
        self._audience = audience
        self._domain_claim = domain_claim
        self._role_claim = role_claim
        self._user_claim = user_claim
        self._ttl = ttl
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=10)
        self._trusted: dict[bytes, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: Settings, store: Store) -> OidcVerifier:
        issuer = settings.oidc_issuer
        if not issuer or not settings.oidc_audience:
            raise errors.InvalidConfiguration(
                "settings", "oidc_audience", "OIDC needs both an issuer and an audience"
            )
        return cls(
            store,
            issuer=issuer,
            audience=settings.oidc_audience,
            jwks_url=settings.oidc_jwks_url or f"{issuer.rstrip('/')}/.well-known/jwks.json",
            domain_claim=settings.oidc_domain_claim,
            role_claim=settings.oidc_role_claim,
            user_claim=settings.oidc_user_claim,
        )

    async def authenticate(self, path_domain: str, token: str) -> Principal:
        key = hashlib.sha256(token.encode()).digest()
        cached = self._fresh(key, path_domain)
        if cached is not None:
            return cached
        claims = await asyncio.to_thread(self._verified_claims, token)
        principal = await self._principal(path_domain, claims)
        if len(self._trusted) >= _MAX_ENTRIES:
            self._trusted.pop(next(iter(self._trusted)))
        until = min(time.monotonic() + self._ttl, time.monotonic() + claims["exp"] - time.time())
        self._trusted[key] = (principal, until)
        return principal

    def cached(self, path_domain: str, token: str) -> Principal | None:
        return self._fresh(hashlib.sha256(token.encode()).digest(), path_domain)

    def _fresh(self, key: bytes, path_domain: str) -> Principal | None:
        cached = self._trusted.get(key)
        if cached is None or cached[1] <= time.monotonic():
            return None
        return cached[0] if cached[0].domain_name == path_domain else None

    def _verified_claims(self, token: str) -> dict[str, Any]:
        """Blocking: may fetch the JWKS."""
        try:
            signing_key = self._keys.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                signing_key.key,
                algorithms=list(ALGORITHMS),
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWKClientError as exc:
            raise errors.AuthenticationFailed(f"The JWT's signing key is not known: {exc}") from exc
        except jwt.InvalidTokenError as exc:
            raise errors.AuthenticationFailed(f"The JWT is not valid: {exc}.") from exc
        return claims

    async def _principal(self, path_domain: str, claims: dict[str, Any]) -> Principal:
        domain_name, role = claims.get(self._domain_claim), claims.get(self._role_claim)
        user_name = claims.get(self._user_claim)
        if domain_name != path_domain:
            raise errors.AuthenticationFailed(
                f"The JWT is not valid in identity domain [{path_domain}] "
                f"(claim {self._domain_claim})."
            )
        if role not in ROLES:
            raise errors.AuthenticationFailed(
                f"The JWT's claim {self._role_claim} must be one of {', '.join(ROLES)}."
            )
        if not isinstance(user_name, str) or not user_name:
            raise errors.AuthenticationFailed(f"The JWT has no claim {self._user_claim}.")
        domain = await self._store.get_domain(path_domain)
        if domain is None:
            raise errors.AuthenticationFailed(f"No identity domain [{path_domain}].")
        return Principal(0, domain.domain_id, domain.name, user_name, str(role), via="oidc")
