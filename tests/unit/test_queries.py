"""store.queries: named SQL parsed from `-- name:` headers."""

from __future__ import annotations

import pytest

from activitylog.store.queries import load_queries, migration_files, parse_queries


def test_parse_queries() -> None:
    text = """-- a file comment before the first query is not a query

-- name: first
SELECT 1;

--name:second
SELECT *
FROM jobs
WHERE job_id = :job_id
"""
    assert parse_queries(text) == {
        "first": "SELECT 1",
        "second": "SELECT *\nFROM jobs\nWHERE job_id = :job_id",
    }


def test_a_name_defined_twice_is_refused() -> None:
    text = "-- name: same\nSELECT 1\n-- name: other\nSELECT 2\n-- name: same\nSELECT 3\n"
    with pytest.raises(ValueError, match="'same' is defined twice"):
        parse_queries(text)


def test_no_headers_no_queries() -> None:
    assert parse_queries("SELECT 1") == {}


def test_a_header_must_be_a_whole_line() -> None:
    text = "-- name: real\nSELECT 1 -- name: not_a_header\n"
    assert list(parse_queries(text)) == ["real"]


def test_the_sqlite_queries_load_and_include_what_the_store_uses() -> None:
    queries = load_queries("sqlite")
    for name in ("claim_jobs", "reserve_message_positions", "renew_lease", "end_job"):
        assert queries[name]
    assert all(body and not body.endswith(";") for body in queries.values())


def test_sqlite_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [version for version, _, _ in migration_files("sqlite")]
    assert versions == list(range(1, len(versions) + 1))
