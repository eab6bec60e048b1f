"""store.migrate.split_statements: a SQLite script cut into statements."""

from __future__ import annotations

import sqlite3

from activitylog.store.migrate import migrate_sqlite, split_statements
from activitylog.store.queries import migration_files


def test_one_statement_per_semicolon() -> None:
    script = "CREATE TABLE a (x INTEGER);\nCREATE TABLE b (y TEXT);\n"
    assert split_statements(script) == ["CREATE TABLE a (x INTEGER);", "CREATE TABLE b (y TEXT);"]


def test_a_statement_may_span_lines() -> None:
    script = "CREATE TABLE a (\n    x INTEGER,\n    y TEXT\n);\n"
    assert split_statements(script) == ["CREATE TABLE a (\n    x INTEGER,\n    y TEXT\n);"]


def test_blank_lines_and_comment_only_lines_between_statements() -> None:
    script = "-- header\n\nCREATE TABLE a (x INTEGER);\n\n\n-- between\nSELECT 1;\n"
    statements = split_statements(script)
    assert len(statements) == 2
    assert statements[0].endswith("CREATE TABLE a (x INTEGER);")
    assert statements[1].endswith("SELECT 1;")


def test_a_semicolon_inside_a_string_does_not_split() -> None:
    script = "INSERT INTO a (y) VALUES ('one; two');\nSELECT 1;\n"
    assert split_statements(script) == ["INSERT INTO a (y) VALUES ('one; two');", "SELECT 1;"]


def test_a_trigger_body_stays_whole() -> None:
    script = """CREATE TABLE a (x INTEGER);
CREATE TRIGGER a_insert AFTER INSERT ON a
BEGIN
    UPDATE a SET x = x + 1;
    DELETE FROM a WHERE x > 10;
END;
SELECT 1;
"""
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[1].startswith("CREATE TRIGGER")
    assert statements[1].endswith("END;")


def test_a_trailing_statement_without_semicolon_is_kept() -> None:
    assert split_statements("SELECT 1;\nSELECT 2") == ["SELECT 1;", "SELECT 2"]


def test_empty_script() -> None:
    assert split_statements("") == []
    assert split_statements("\n\n  \n") == []


def test_every_sqlite_migration_splits_into_statements_sqlite_accepts() -> None:
    connection = sqlite3.connect(":memory:")
    try:
        for _, _, script in migration_files("sqlite"):
            for statement in split_statements(script):
                assert sqlite3.complete_statement(statement)
                connection.execute(statement)
    finally:
        connection.close()


def test_migrations_apply_once() -> None:
    connection = sqlite3.connect(":memory:", isolation_level=None)
    try:
        applied = migrate_sqlite(connection)
        assert applied == [version for version, _, _ in migration_files("sqlite")]
        assert migrate_sqlite(connection) == []
    finally:
        connection.close()
