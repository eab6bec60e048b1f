"""The demo tenant that `activitylog serve --demo` creates: never in production."""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from activitylog import errors
from activitylog.passwords import password_hasher
from activitylog.store.base import Store

DEMO_DOMAIN = "ExampleIdentityDomain"
DEMO_USER = "joe@example.com"
DEMO_PASSWORD = "joePassword"  # noqa: S105 - the documented demo credential

log = structlog.get_logger("activitylog.demo")


async def ensure_demo_tenant(store: Store, *, fast_hash: bool = False) -> None:
    """Create the demo identity domain and user if they are missing, and say so loudly."""
    if await store.get_domain(DEMO_DOMAIN) is None:
        with contextlib.suppress(errors.Conflict):  # another process created it first
            await store.create_domain(DEMO_DOMAIN)
    if await store.find_user(DEMO_DOMAIN, DEMO_USER) is None:
        hashed = await asyncio.to_thread(password_hasher(fast=fast_hash).hash, DEMO_PASSWORD)
        with contextlib.suppress(errors.Conflict):
            await store.create_user(DEMO_DOMAIN, DEMO_USER, hashed, "admin")
    log.warning(
        "DEMO MODE: identity domain and user with a published password are enabled; "
        "do not expose this server",
        domain=DEMO_DOMAIN,
        user=DEMO_USER,
        password=DEMO_PASSWORD,
    )
