"""The Idempotency-Key header on instancemgmt writes (our extension to PSM).

A repeat within 24 hours gets the first answer: the same 202, Location and job, even when the
two requests race. The same key with a different request (method, path or JSON body) is 422.
The store enforces it with a unique key per identity domain, in the submission's transaction.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from starlette.requests import Request

from activitylog import errors
from activitylog.store.records import IdempotencyKey

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[!-~]{1,255}")
"""1 to 255 visible ASCII characters, as in Stripe's and the IETF draft's examples."""


def idempotency_of(request: Request, body: dict[str, Any]) -> IdempotencyKey | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not KEY_PATTERN.fullmatch(key):
        raise errors.InvalidRequest(
            f"The {HEADER} header is not valid.",
            [f"{HEADER}: expected 1 to 255 visible ASCII characters"],
        )
    return IdempotencyKey(key, request_fingerprint(request.method, request.url.path, body))


def request_fingerprint(method: str, path: str, body: dict[str, Any]) -> str:
    """A hash of what makes two requests the same one: method, path and the JSON body with
    its keys sorted (so that key order and whitespace do not count)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()
