"""Database URLs as printed: no password, and one line saying why a database will not open."""

from __future__ import annotations

import errno
import socket

import pytest

from activitylog import errors
from activitylog.store.locations import cannot_open, describe_database, redact_url


@pytest.mark.parametrize(
    ("url", "printed"),
    [
        ("postgresql://u:s3cr3t@db:5432/app", "postgresql://u:***@db:5432/app"),
        ("postgres://u:p%40ss@db/app?sslmode=require", "postgres://u:***@db/app?sslmode=require"),
        ("postgresql://u:a:b@c@db/app", "postgresql://u:***@db/app"),
        ("postgresql://db/app?user=u&password=s3cr3t", "postgresql://db/app?user=u&password=***"),
        ("postgresql://u@db/app", "postgresql://u@db/app"),
        ("postgresql://db", "postgresql://db"),
        ("activitylog.db", "activitylog.db"),
        ("/var/lib/a:b@c/activitylog.db", "/var/lib/a:b@c/activitylog.db"),
    ],
)
def test_a_password_is_never_printed(url: str, printed: str) -> None:
    assert redact_url(url) == printed


def test_the_database_is_described_without_its_password() -> None:
    assert describe_database("postgresql://u:s3cr3t@db:5433/app") == (
        "PostgreSQL at db:5433 (database app, user u)"
    )
    assert describe_database("postgresql://db") == "PostgreSQL at db"
    assert describe_database("a.db") == "the SQLite database a.db"


def unavailable(cause: BaseException) -> errors.StoreUnavailable:
    exc = errors.StoreUnavailable()
    exc.__cause__ = cause  # as the store chains its driver's error
    return exc


@pytest.mark.parametrize(
    ("cause", "why"),
    [
        (ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"), "connection refused"),
        (OSError(errno.ECONNREFUSED, "Connect call failed"), "connection refused"),
        (TimeoutError(), "timed out waiting for an answer"),
        (socket.gaierror(-2, "Name or service not known"), "the host name cannot be resolved"),
        (OSError(errno.ENETUNREACH, "Network is unreachable"), "network is unreachable"),
    ],
)
def test_why_a_database_will_not_open(cause: BaseException, why: str) -> None:
    line = cannot_open("postgresql://u:s3cr3t@db/app", unavailable(cause))

    assert line.startswith(f"cannot open PostgreSQL at db (database app, user u): {why}")
    assert "s3cr3t" not in line
