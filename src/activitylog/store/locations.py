"""Database URLs as people may see them: the password never printed, and, when the database
cannot be opened at start-up, one line saying which database and why."""

from __future__ import annotations

import errno
import re
import socket
import urllib.parse

REDACTED = "***"
# libpq's keyword form in the query string (?password=...) carries a password as well.
_QUERY_PASSWORD = re.compile(r"(?i)([?&](?:password|sslpassword)=)[^&#]*")


def is_postgres_url(url: str) -> bool:
    return url.startswith(("postgres://", "postgresql://"))


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``; a SQLite path comes back unchanged."""
    if not is_postgres_url(url):
        return url
    scheme, separator, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    credentials, at, hosts = authority.rpartition("@")
    if at and ":" in credentials:
        user = credentials.partition(":")[0]
        authority = f"{user}:{REDACTED}@{hosts}"
    return _QUERY_PASSWORD.sub(rf"\g<1>{REDACTED}", f"{scheme}{separator}{authority}{slash}{tail}")


def describe_database(url: str) -> str:
    """Which database ``url`` names, for a person: no password, no driver options."""
    if not is_postgres_url(url):
        return f"the SQLite database {url}"
    parts = urllib.parse.urlsplit(redact_url(url))
    where = parts.netloc.rpartition("@")[2] or "localhost:5432"
    name = parts.path.lstrip("/")
    user = urllib.parse.unquote(parts.username) if parts.username else None
    named = [f"database {name}" if name else "", f"user {user}" if user else ""]
    details = ", ".join(text for text in named if text)
    return f"PostgreSQL at {where}" + (f" ({details})" if details else "")


def why_unopenable(exc: BaseException) -> str:
    """Why a database could not be opened, in a few words, from the driver's own error (the
    cause the store chained to its StoreUnavailable)."""
    cause = exc.__cause__ or exc
    name = type(cause).__name__
    if isinstance(cause, socket.gaierror):
        return f"the host name cannot be resolved ({cause.strerror})"
    if isinstance(cause, ConnectionRefusedError) or (
        isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED
    ):
        return "connection refused (is PostgreSQL running and listening there?)"
    if isinstance(cause, TimeoutError):
        return "timed out waiting for an answer"
    if name in {"InvalidPasswordError", "InvalidAuthorizationSpecificationError"}:
        return f"authentication failed: {cause}"
    if name == "InvalidCatalogNameError":
        return str(cause)
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[0].lower() + cause.strerror[1:]
    text = str(cause).strip() or name
    return text.splitlines()[0]


def cannot_open(url: str, exc: BaseException) -> str:
    """The one line a process prints when its database cannot be opened at start-up."""
    return f"cannot open {describe_database(url)}: {why_unopenable(exc)}"
