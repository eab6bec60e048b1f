"""What a store transaction asks its driver to do, one step at a time.

A transaction (store/transactions.py) is a generator: it yields a step, the driver runs it and
sends the result back, until the generator returns the transaction's result. The same
generator runs on SQLite's writer thread and in an asyncpg transaction; it does no I/O itself.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from typing import Any, Literal, TypeAlias, TypeVar

T = TypeVar("T")

Fetch = Literal["row", "rows", "value", "nothing"]
"""What a query's result is sent back as: its first row (or None), every row, the first row's
first column (or None), or None."""


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    """A named query (store/sql/) with its named parameters. A list parameter reaches
    PostgreSQL as an array and SQLite as JSON text (read there with ``json_each``)."""

    name: str
    params: dict[str, Any]
    fetch: Fetch


@dataclasses.dataclass(frozen=True, slots=True)
class QueryEach:
    """A named query run once for each set of parameters (executemany), all scalars; sends
    back None."""

    name: str
    each: list[dict[str, Any]]


@dataclasses.dataclass(frozen=True, slots=True)
class Built:
    """SQL built for this dialect at run time (store/search_sql.py), with positional
    parameters in the dialect's own style (``Dialect.placeholder``)."""

    sql: str
    params: list[Any]
    fetch: Fetch


Notice = Literal["new_job", "job_changed", "job_cancelled"]


@dataclasses.dataclass(frozen=True, slots=True)
class Notify:
    """Tell other processes, when the transaction commits. PostgreSQL sends it (pg_notify);
    SQLite has no other process to tell (the store wakes its own waiters after the commit)."""

    notice: Notice
    job_id: int | None = None
    domain_id: int | None = None
    """The job's identity domain: a listening process wakes only that domain's streams."""


Step: TypeAlias = Query | QueryEach | Built | Notify
Transaction: TypeAlias = Generator[Step, Any, T]


def row(name: str, /, **params: Any) -> Query:
    return Query(name, params, "row")


def rows(name: str, /, **params: Any) -> Query:
    return Query(name, params, "rows")


def value(name: str, /, **params: Any) -> Query:
    return Query(name, params, "value")


def execute(name: str, /, **params: Any) -> Query:
    return Query(name, params, "nothing")


@dataclasses.dataclass(frozen=True, slots=True)
class Dialect:
    """What a transaction must know of the database it runs on: little, and said here."""

    name: Literal["sqlite", "postgres"]
    placeholder: Callable[[int], str]
    """How built SQL marks its n-th parameter (from 1)."""
    claim_writes_started_messages: bool
    """Whether claim_jobs also writes each claimed job's Started message (PostgreSQL does, in
    the same statement, with a data-modifying WITH)."""
    before_claim: str | None
    """A query to run first in a claim's transaction, if any (PostgreSQL: plan settings)."""


SQLITE = Dialect("sqlite", lambda _: "?", claim_writes_started_messages=False, before_claim=None)
POSTGRES = Dialect(
    "postgres",
    lambda n: f"${n}",
    claim_writes_started_messages=True,
    before_claim="claim_in_index_order",
)
