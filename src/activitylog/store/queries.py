"""Named SQL queries, kept in one ``.sql`` file per dialect and parsed once.

A query starts at a ``-- name: some_name`` line and runs to the next one.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = body.strip().rstrip(";")
    return queries


@functools.cache
def load_queries(dialect: str) -> dict[str, str]:
    text = resources.files("activitylog.store.sql").joinpath(f"{dialect}.sql").read_text("utf-8")
    return parse_queries(text)


def migration_files(dialect: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) for each numbered migration of the dialect, in order."""
    folder = resources.files("activitylog.store.migrations").joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    return sorted(found)
