"""Named SQL queries, parsed once: ``queries.sql`` for both dialects, and per dialect a file of
the queries that must differ (same name, which replaces the shared one) or that only it has.

A query starts at a ``-- name: some_name`` line and runs to the next one.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

_HEADER = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
# `:name`, but neither the second colon of a `::type` cast nor the `:30` inside `12:30`.
_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")
_COMMENT_LINE = re.compile(r"^\s*--.*\n?", re.MULTILINE)


def parse_queries(text: str) -> dict[str, str]:
    parts = _HEADER.split(text)
    queries: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in queries:
            raise ValueError(f"query {name!r} is defined twice")
        queries[name] = body.strip().rstrip(";")
    return queries


SHARED = "queries"


def read_query_file(name: str) -> dict[str, str]:
    """One ``.sql`` file of store/sql/, parsed."""
    return parse_queries(
        resources.files("activitylog.store.sql").joinpath(f"{name}.sql").read_text("utf-8")
    )


@functools.cache
def load_queries(dialect: str) -> dict[str, str]:
    """The queries a dialect's store runs: the shared ones, with the dialect's own on top."""
    return read_query_file(SHARED) | read_query_file(dialect)


@dataclasses.dataclass(frozen=True, slots=True)
class NumberedQuery:
    """A query whose ``:name`` parameters became ``$1, $2, ...``, the style asyncpg takes."""

    sql: str
    names: tuple[str, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        """The values in ``$n`` order; a parameter missing from ``params`` raises KeyError."""
        return [params[name] for name in self.names]


def number_parameters(sql: str) -> NumberedQuery:
    """Number the named parameters in order of first use; a name used twice keeps its number."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    # Whole-line comments go first: a colon in prose must not become a parameter.
    text = _COMMENT_LINE.sub("", sql)
    return NumberedQuery(_NAMED_PARAMETER.sub(number, text), tuple(names))


@functools.cache
def load_numbered_queries(dialect: str) -> dict[str, NumberedQuery]:
    return {name: number_parameters(sql) for name, sql in load_queries(dialect).items()}


def migration_files(dialect: str) -> list[tuple[int, str, str]]:
    """(version, name, sql) for each numbered migration of the dialect, in order."""
    folder = resources.files("activitylog.store.migrations").joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d{4})_(\w+)\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    return sorted(found)
