"""The console's form bodies: URL-encoded, small, read without python-multipart (which
Starlette's ``request.form()`` needs, and which nothing else here would use)."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

MAX_FORM_BYTES = 16 * 1024
"""Far more than a sign-in or a Cancel sends."""


async def read_form(request: Request) -> dict[str, str]:
    """The form's fields (the first value of each); empty when the body is not a URL-encoded
    form or is larger than MAX_FORM_BYTES, so that every check on it then fails."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return {}
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields: dict[str, str] = {}
    for name, value in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True):
        fields.setdefault(name, value)
    return fields
