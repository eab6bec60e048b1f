"""Runs store transactions (store/transactions.py) on a sqlite3 connection.

Synchronous: the SQLite store calls it on its writer thread for writes, inline for point reads
and on its reader pool for searches. Rows come back as ``sqlite3.Row``, readable by column name
and by position, as asyncpg's records are.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, TypeVar

from activitylog.store.queries import load_queries
from activitylog.store.steps import Built, Fetch, Notify, Query, QueryEach, Step, Transaction

T = TypeVar("T")
Q = load_queries("sqlite")
# The queries that read a list parameter (as JSON, with json_each): only theirs are converted,
# so that the writer thread spends nothing looking for lists in every other query's parameters.
_TAKES_LISTS = frozenset(name for name, sql in Q.items() if "json_each" in sql)


def run(connection: sqlite3.Connection, transaction: Transaction[T]) -> T:
    """Run every step of ``transaction`` on ``connection`` and return its result. The caller
    owns BEGIN and COMMIT: a lone statement needs neither to see one snapshot."""
    result: Any = None
    try:
        while True:
            result = _run_step(connection, transaction.send(result))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        transaction.close()


def _run_step(connection: sqlite3.Connection, step: Step) -> Any:
    if isinstance(step, Query):
        params = _as_json(step.params) if step.name in _TAKES_LISTS else step.params
        return _fetch(connection.execute(Q[step.name], params), step.fetch)
    if isinstance(step, QueryEach):
        connection.executemany(Q[step.name], step.each)
        return None
    if isinstance(step, Built):
        return _fetch(connection.execute(step.sql, step.params), step.fetch)
    if isinstance(step, Notify):
        return None  # no other process to tell: the store wakes its own waiters on commit
    raise TypeError(f"not a store step: {step!r}")


def _fetch(cursor: sqlite3.Cursor, fetch: Fetch) -> Any:
    if fetch == "row":
        return cursor.fetchone()
    if fetch == "rows":
        return cursor.fetchall()
    if fetch == "value":
        found = cursor.fetchone()
        return None if found is None else found[0]
    return None


def _as_json(params: dict[str, Any]) -> dict[str, Any]:
    """Lists as JSON text, which the queries read with json_each (SQLite has no arrays)."""
    return {
        name: json.dumps(given) if isinstance(given, list) else given
        for name, given in params.items()
    }
