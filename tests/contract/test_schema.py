"""The schema: migrations give the committed snapshot, apply once, and may race; both dialects'
query files define the same names.

To accept a deliberate schema change, run with ACTIVITYLOG_UPDATE_SNAPSHOTS=1 and commit the
rewritten files under tests/contract/snapshots/.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from activitylog.store.migrate import migrate_postgres, migrate_sqlite
from activitylog.store.postgres import PostgresStore
from activitylog.store.queries import load_numbered_queries, load_queries, migration_files
from tests.contract.conftest import (
    create_empty_database,
    drop_database,
    fresh_database_name,
    run_blocking,
)
from tests.postgres_server import database_url

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.fixture
def empty_database(dialect: str, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it, not even the migrations: a path or a URL."""
    if dialect == "sqlite":
        yield str(tmp_path / "empty.db")
        return
    name = fresh_database_name("schema")
    url = run_blocking(create_empty_database(name))
    try:
        yield url
    finally:
        run_blocking(drop_database(name))


# -- the snapshot -----------------------------------------------------------------------------


def sqlite_schema(path: str) -> str:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
            "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 ELSE 2 END, name"
        ).fetchall()
    finally:
        connection.close()
    return "".join(f"{sql};\n\n" for (sql,) in rows).rstrip() + "\n"


_PG_COLUMNS = """
SELECT c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS column_type,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END AS collation,
       a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default_value
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_collation co ON co.oid = a.attcollation
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE n.nspname = 'public' AND c.relkind = 'r'
ORDER BY c.relname, a.attnum
"""
_PG_CONSTRAINTS = """
SELECT conrelid::regclass::text AS table_name, conname, pg_get_constraintdef(oid) AS definition
FROM pg_constraint
WHERE connamespace = 'public'::regnamespace AND contype IN ('p', 'u', 'f', 'c')
ORDER BY 1, position(contype IN 'pufc'), conname
"""
_PG_INDEXES = """
SELECT c.relname, pg_get_indexdef(i.indexrelid) AS definition
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT EXISTS (
    SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u')
)
ORDER BY c.relname
"""
_PG_FUNCTIONS = """
SELECT p.proname, pg_get_functiondef(p.oid) AS definition FROM pg_proc p
WHERE p.pronamespace = 'public'::regnamespace ORDER BY p.proname
"""
_PG_TRIGGERS = """
SELECT t.tgname, pg_get_triggerdef(t.oid) AS definition FROM pg_trigger t
JOIN pg_class c ON c.oid = t.tgrelid
WHERE c.relnamespace = 'public'::regnamespace AND NOT t.tgisinternal ORDER BY t.tgname
"""
_PG_SEQUENCES = """
SELECT sequencename, data_type::text, start_value, increment_by, max_value
FROM pg_sequences WHERE schemaname = 'public' ORDER BY sequencename
"""


async def postgres_schema(url: str) -> str:
    """The schema as DDL-like text, read from the catalog: independent of pg_dump's version."""
    connection = await asyncpg.connect(url, timeout=10)
    try:
        columns = await connection.fetch(_PG_COLUMNS)
        constraints = await connection.fetch(_PG_CONSTRAINTS)
        indexes = await connection.fetch(_PG_INDEXES)
        sequences = await connection.fetch(_PG_SEQUENCES)
        functions = await connection.fetch(_PG_FUNCTIONS)
        triggers = await connection.fetch(_PG_TRIGGERS)
    finally:
        await connection.close()
    lines: list[str] = []
    for table in dict.fromkeys(row["table_name"] for row in columns):
        body = [_pg_column(row) for row in columns if row["table_name"] == table]
        lines.append(f"CREATE TABLE {table} (\n    " + ",\n    ".join(body) + "\n);")
        lines.extend(
            f"ALTER TABLE {table} ADD CONSTRAINT {row['conname']} {row['definition']};"
            for row in constraints
            if row["table_name"] == table
        )
        lines.append("")
    lines.extend(f"{row['definition']};" for row in indexes)
    lines.append("")
    lines.extend(
        f"CREATE SEQUENCE {row['sequencename']} AS {row['data_type']} "
        f"START {row['start_value']} INCREMENT {row['increment_by']} "
        f"MAXVALUE {row['max_value']};"
        for row in sequences
    )
    lines.append("")
    lines.extend(f"{row['definition'].strip()};\n" for row in functions)
    lines.extend(f"{row['definition']};" for row in triggers)
    return "\n".join(lines).rstrip() + "\n"


def _pg_column(row: Any) -> str:
    text = f"{row['column_name']} {row['column_type']}"
    if row["collation"]:
        text += f' COLLATE "{row["collation"]}"'
    if row["not_null"]:
        text += " NOT NULL"
    if row["default_value"] is not None:
        text += f" DEFAULT {row['default_value']}"
    return text


def migrate_and_read_schema(dialect: str, database: str) -> tuple[list[int], str]:
    if dialect == "sqlite":
        connection = sqlite3.connect(database, isolation_level=None)
        try:
            applied = migrate_sqlite(connection)
        finally:
            connection.close()
        return applied, sqlite_schema(database)

    async def migrate() -> tuple[list[int], str]:
        connection = await asyncpg.connect(database, timeout=10)
        try:
            applied = await migrate_postgres(connection)
        finally:
            await connection.close()
        return applied, await postgres_schema(database)

    return run_blocking(migrate())


def test_every_migration_on_an_empty_database_gives_the_snapshot(
    dialect: str, empty_database: str
) -> None:
    applied, schema = migrate_and_read_schema(dialect, empty_database)
    assert applied == [version for version, _, _ in migration_files(dialect)]
    snapshot = SNAPSHOTS / f"{dialect}.sql"
    if os.environ.get("ACTIVITYLOG_UPDATE_SNAPSHOTS") == "1":
        snapshot.write_text(schema, encoding="utf-8")
    assert snapshot.exists(), "no snapshot yet: run with ACTIVITYLOG_UPDATE_SNAPSHOTS=1"
    assert schema == snapshot.read_text(encoding="utf-8"), (
        f"the migrated schema differs from {snapshot}; if that is intended, run with "
        "ACTIVITYLOG_UPDATE_SNAPSHOTS=1 and commit the snapshot"
    )


def test_migrating_twice_changes_nothing(dialect: str, empty_database: str) -> None:
    first_applied, first_schema = migrate_and_read_schema(dialect, empty_database)
    second_applied, second_schema = migrate_and_read_schema(dialect, empty_database)
    assert first_applied
    assert second_applied == []
    assert second_schema == first_schema


def test_concurrent_migrations_apply_each_version_once(dialect: str, empty_database: str) -> None:
    if dialect == "sqlite":
        with concurrent.futures.ThreadPoolExecutor(4) as threads:
            applied = list(
                threads.map(lambda _: migrate_and_read_schema(dialect, empty_database)[0], range(4))
            )
        ledger = _sqlite_ledger(empty_database)
    else:
        applied, ledger = run_blocking(_race_postgres_migrations(empty_database, 4))
    versions = [version for version, _, _ in migration_files(dialect)]
    assert sorted(applied) == [[]] * 3 + [versions]
    assert ledger == [(version, 1) for version in versions]


def _sqlite_ledger(path: str) -> list[tuple[int, int]]:
    connection = sqlite3.connect(path)
    try:
        rows = connection.execute(
            "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version"
        ).fetchall()
    finally:
        connection.close()
    return [(version, count) for version, count in rows]


async def _race_postgres_migrations(
    url: str, racers: int
) -> tuple[list[list[int]], list[tuple[int, int]]]:
    connections = [await asyncpg.connect(url, timeout=10) for _ in range(racers)]
    try:
        applied = await asyncio.gather(*(migrate_postgres(c) for c in connections))
        rows = await connections[0].fetch(
            "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version"
        )
    finally:
        for connection in connections:
            await connection.close()
    return list(applied), [(row[0], row[1]) for row in rows]


@pytest.mark.postgres
def test_stores_opening_together_on_a_fresh_postgres_database_all_open(tmp_path: Path) -> None:
    name = fresh_database_name("schema")
    url = run_blocking(create_empty_database(name))

    async def open_together() -> list[tuple[int, int]]:
        stores = [PostgresStore(url) for _ in range(4)]
        await asyncio.gather(*(store.open() for store in stores))
        try:
            domain = await stores[0].create_domain("usexample")
            assert await stores[3].get_domain("usexample") == domain
        finally:
            for store in stores:
                await store.close()
        connection = await asyncpg.connect(url, timeout=10)
        try:
            rows = await connection.fetch(
                "SELECT version, count(*) FROM schema_migrations GROUP BY version ORDER BY version"
            )
        finally:
            await connection.close()
        return [(row[0], row[1]) for row in rows]

    try:
        ledger = run_blocking(open_together())
    finally:
        run_blocking(drop_database(name))
    assert ledger == [(version, 1) for version, _, _ in migration_files("postgres")]


# -- migrations and queries agree across dialects ---------------------------------------------


# Queries only one dialect has: PostgreSQL's group commit, plan setting, notifications and
# advisory lock. Every other query runs on both, from the one transaction that names it.
DIALECT_ONLY = {
    "sqlite": set[str](),
    "postgres": {
        "claim_in_index_order",
        "submit_creates_at_once",
        "end_jobs_at_once",
        "notify",
        "try_rescuer_lock",
    },
}


def test_both_dialects_define_the_same_queries_but_their_own() -> None:
    sqlite, postgres = (set(load_queries(d)) - DIALECT_ONLY[d] for d in ("sqlite", "postgres"))
    assert sorted(sqlite) == sorted(postgres)
    assert DIALECT_ONLY["postgres"] <= set(load_queries("postgres"))


def test_both_dialects_have_the_same_migrations() -> None:
    sqlite = [(version, name) for version, name, _ in migration_files("sqlite")]
    postgres = [(version, name) for version, name, _ in migration_files("postgres")]
    assert sqlite == postgres
    assert [version for version, _ in postgres] == list(range(1, len(postgres) + 1))


def test_every_sqlite_query_compiles_against_the_schema(tmp_path: Path) -> None:
    path = str(tmp_path / "queries.db")
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        migrate_sqlite(connection)
        for name, sql in load_queries("sqlite").items():
            params = dict.fromkeys(re.findall(r"(?<![:\w]):(\w+)", sql))
            try:
                connection.execute(f"EXPLAIN {sql}", params)
            except sqlite3.Error as exc:
                pytest.fail(f"query {name}: {exc}")
    finally:
        connection.close()


@pytest.mark.postgres
def test_every_postgres_query_compiles_against_the_schema(postgres_template: str) -> None:
    async def prepare_all() -> None:
        url = database_url(postgres_template)
        connection = await asyncpg.connect(url, timeout=10)
        try:
            for name, query in load_numbered_queries("postgres").items():
                try:
                    await connection.prepare(query.sql)
                except asyncpg.PostgresError as exc:
                    pytest.fail(f"query {name}: {exc}")
        finally:
            await connection.close()

    run_blocking(prepare_all())


def test_named_parameters_become_numbered_ones() -> None:
    query = load_numbered_queries("postgres")["end_job"]
    assert "$1" in query.sql
    assert ":" not in query.sql.replace("::", "")
    assert len(query.names) == len(set(query.names))
    params = {name: name.upper() for name in query.names}
    assert query.arguments(params) == [name.upper() for name in query.names]
