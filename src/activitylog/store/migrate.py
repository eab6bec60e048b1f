"""Applying the numbered migrations of a dialect, once each, in order."""

from __future__ import annotations

import sqlite3
from typing import Any

from activitylog.domain.dates import now_ms
from activitylog.store.queries import migration_files

_CREATE_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at BIGINT NOT NULL
)
"""


# The key of the PostgreSQL advisory lock that serialises migrations: "activlog" in ASCII.
# Advisory locks are per database, so stores on other databases never wait on it.
MIGRATION_LOCK_KEY = 0x61637469766C6F67


def split_statements(script: str) -> list[str]:
    """Split a SQLite script into statements (a trigger body stays whole)."""
    statements: list[str] = []
    current: list[str] = []
    for line in script.splitlines(keepends=True):
        current.append(line)
        text = "".join(current)
        if sqlite3.complete_statement(text):
            if text.strip():
                statements.append(text.strip())
            current = []
    if "".join(current).strip():
        statements.append("".join(current).strip())
    return statements


def migrate_sqlite(connection: sqlite3.Connection) -> list[int]:
    """Apply pending migrations under one write lock; return the versions applied."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(_CREATE_LEDGER)
        applied = {row[0] for row in connection.execute("SELECT version FROM schema_migrations")}
        done = []
        for version, name, script in migration_files("sqlite"):
            if version in applied:
                continue
            for statement in split_statements(script):
                connection.execute(statement)
            connection.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (version, name, now_ms()),
            )
            done.append(version)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return done


async def migrate_postgres(connection: Any) -> list[int]:
    """Apply pending migrations on an asyncpg connection; return the versions applied.

    Everything runs in one transaction under an advisory lock, so that processes starting
    together take turns: the first applies the migrations, the others then find them applied.
    """
    async with connection.transaction():
        await connection.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_KEY)
        await connection.execute(_CREATE_LEDGER)
        rows = await connection.fetch("SELECT version FROM schema_migrations")
        applied = {row[0] for row in rows}
        done = []
        for version, name, script in migration_files("postgres"):
            if version in applied:
                continue
            # Without arguments asyncpg sends the script as one simple query, many statements.
            await connection.execute(script)
            await connection.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                version,
                name,
                now_ms(),
            )
            done.append(version)
    return done


def pending_migrations(dialect: str, applied: list[int]) -> list[int]:
    """The versions this code has and the database lacks, in order."""
    have = set(applied)
    return [version for version, _, _ in migration_files(dialect) if version not in have]


def read_applied_sqlite(path: str) -> list[int]:
    """The versions a SQLite file has, read without migrating it (a missing ledger: none)."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if found is None:
            return []
        return [row[0] for row in connection.execute("SELECT version FROM schema_migrations")]
    finally:
        connection.close()


async def read_applied_postgres(connection: Any) -> list[int]:
    exists = await connection.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return []
    return [row[0] for row in await connection.fetch("SELECT version FROM schema_migrations")]
