"""Runs store transactions (store/transactions.py) on an asyncpg connection, and the named
queries that group commit (postgres_group_commit.py) sends on its own."""

from __future__ import annotations

from typing import Any, TypeVar

from activitylog.store.postgres_listener import (
    CHANNEL,
    JOB_CANCELLED_CHANNEL,
    JOB_CHANGED_CHANNEL,
    change_payload,
)
from activitylog.store.queries import load_numbered_queries
from activitylog.store.steps import Built, Fetch, Notify, Query, QueryEach, Step, Transaction

T = TypeVar("T")
Q = load_numbered_queries("postgres")

_CHANNELS = {
    "new_job": CHANNEL,
    "job_changed": JOB_CHANGED_CHANNEL,
    "job_cancelled": JOB_CANCELLED_CHANNEL,
}


async def run(connection: Any, transaction: Transaction[T]) -> T:
    """Run every step of ``transaction`` on ``connection`` and return its result. The caller
    opens the transaction, unless the work is one statement (a transaction of its own)."""
    result: Any = None
    try:
        while True:
            result = await _run_step(connection, transaction.send(result))
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        transaction.close()


async def _run_step(connection: Any, step: Step) -> Any:
    if isinstance(step, Query):
        return await fetch(connection, step.name, step.fetch, step.params)
    if isinstance(step, QueryEach):
        named = Q[step.name]
        await connection.executemany(named.sql, [named.arguments(each) for each in step.each])
        return None
    if isinstance(step, Built):
        return await _fetch(connection, step.fetch, step.sql, step.params)
    if isinstance(step, Notify):
        payload = "" if step.job_id is None else change_payload(step.job_id, step.domain_id)
        params = {"channel": _CHANNELS[step.notice], "payload": payload}
        return await fetch(connection, "notify", "nothing", params)
    raise TypeError(f"not a store step: {step!r}")


async def fetch(connection: Any, name: str, how: Fetch, params: dict[str, Any]) -> Any:
    """One named query, its result fetched ``how``."""
    named = Q[name]
    return await _fetch(connection, how, named.sql, named.arguments(params))


async def _fetch(connection: Any, how: Fetch, sql: str, arguments: list[Any]) -> Any:
    if how == "row":
        return await connection.fetchrow(sql, *arguments)
    if how == "rows":
        return await connection.fetch(sql, *arguments)
    if how == "value":
        return await connection.fetchval(sql, *arguments)
    await connection.execute(sql, *arguments)
    return None
