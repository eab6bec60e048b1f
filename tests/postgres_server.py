"""Where the tests find PostgreSQL: ``ACTIVITYLOG_TEST_POSTGRES``, the URL of a database they
may connect to as a user who may create databases (by default
postgresql://postgres@127.0.0.1:5432/test). Each test gets a database of its own beside it.

Tests that need it carry the ``postgres`` marker, so ``pytest -m "not postgres"`` runs the
rest without a server; `require_postgres_marker` makes a test without the marker fail when it
asks for a database, so that selection stays true.
"""

from __future__ import annotations

import os
import urllib.parse

import pytest

DEFAULT_TEST_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
PG_ADMIN = os.environ.get("ACTIVITYLOG_TEST_POSTGRES") or DEFAULT_TEST_POSTGRES
"""The database the tests connect to for CREATE DATABASE and DROP DATABASE."""

_ADMIN = urllib.parse.urlsplit(PG_ADMIN)
PG_HOST = _ADMIN.hostname or "127.0.0.1"
PG_PORT = _ADMIN.port or 5432


def database_url(name: str) -> str:
    """The URL of database ``name`` on the test server, as the same user."""
    return urllib.parse.urlunsplit(_ADMIN._replace(path=f"/{name}"))


def with_address(url: str, host: str, port: int) -> str:
    """``url`` pointed at another address (a proxy in front of the server), same user."""
    parts = urllib.parse.urlsplit(url)
    credentials = parts.netloc.rpartition("@")[0]
    netloc = f"{credentials}@{host}:{port}" if credentials else f"{host}:{port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def with_user(url: str, user: str, password: str | None = None) -> str:
    """``url`` as another user (or the same with a password)."""
    parts = urllib.parse.urlsplit(url)
    credentials = f"{user}:{password}" if password else user
    return urllib.parse.urlunsplit(
        parts._replace(netloc=f"{credentials}@{parts.netloc.rpartition('@')[2]}")
    )


def require_postgres_marker(request: pytest.FixtureRequest) -> None:
    """Fail a test that asks for a PostgreSQL database without the ``postgres`` marker."""
    if request.node.get_closest_marker("postgres") is None:
        pytest.fail(
            f"{request.node.nodeid} uses PostgreSQL: mark it @pytest.mark.postgres, so that "
            '-m "not postgres" leaves it out'
        )
