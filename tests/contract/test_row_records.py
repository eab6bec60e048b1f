"""Rows become records by position: each mapped query's columns are its record's fields."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from activitylog.store.migrate import migrate_sqlite
from activitylog.store.queries import load_numbered_queries, load_queries
from activitylog.store.records import ROW_RECORDS, JobView
from activitylog.store.search_sql import JOB_COLUMNS
from tests.contract.conftest import run_blocking
from tests.postgres_server import database_url


def expected_columns(query: str) -> list[str]:
    record, extra = ROW_RECORDS[query]
    return [field.name for field in dataclasses.fields(record)] + list(extra)


def test_the_search_page_columns_are_the_job_views_fields_but_its_messages() -> None:
    fields = [field.name for field in dataclasses.fields(JobView)]
    assert [column.strip() for column in JOB_COLUMNS.split(",")] == fields[:-1]


def test_on_sqlite(tmp_path: Path) -> None:
    connection = sqlite3.connect(str(tmp_path / "columns.db"), isolation_level=None)
    try:
        migrate_sqlite(connection)
        for query in ROW_RECORDS:
            sql = load_queries("sqlite")[query]
            # Run, and rolled back: sqlite3 names a statement's columns once it has run it.
            params = dict.fromkeys(re.findall(r"(?<![:\w]):(\w+)", sql), 0)
            connection.execute("BEGIN")
            cursor = connection.execute(sql, params)
            columns = [column[0] for column in cursor.description]
            connection.execute("ROLLBACK")
            assert columns == expected_columns(query), query
    finally:
        connection.close()


@pytest.mark.postgres
def test_on_postgres(postgres_template: str) -> None:
    async def columns_of_each() -> dict[str, list[str]]:
        url = database_url(postgres_template)
        connection = await asyncpg.connect(url, timeout=10)
        try:
            queries = load_numbered_queries("postgres")
            return {
                query: [
                    a.name for a in (await connection.prepare(queries[query].sql)).get_attributes()
                ]
                for query in ROW_RECORDS
            }
        finally:
            await connection.close()

    for query, columns in run_blocking(columns_of_each()).items():
        assert columns == expected_columns(query), query
