"""Running the PostgreSQL store's named queries on an asyncpg connection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from activitylog.domain.jobs import storable_message
from activitylog.store.queries import load_numbered_queries

# postgres.sql mirrors sqlite.sql query for query; postgres_compound.sql has the statements
# that only PostgreSQL needs (one round trip where postgres.sql takes several).
Q = load_numbered_queries("postgres") | load_numbered_queries("postgres_compound")


async def fetch_row(c: Any, query: str, /, **params: Any) -> Any:
    named = Q[query]
    return await c.fetchrow(named.sql, *named.arguments(params))


async def fetch_rows(c: Any, query: str, /, **params: Any) -> list[Any]:
    named = Q[query]
    rows: list[Any] = await c.fetch(named.sql, *named.arguments(params))
    return rows


async def fetch_value(c: Any, query: str, /, **params: Any) -> Any:
    named = Q[query]
    return await c.fetchval(named.sql, *named.arguments(params))


async def execute(c: Any, query: str, /, **params: Any) -> None:
    named = Q[query]
    await c.execute(named.sql, *named.arguments(params))


async def insert_messages(
    c: Any, job_id: int, first_position: int, texts: Sequence[str], now: int
) -> None:
    query = Q["insert_message"]
    await c.executemany(
        query.sql,
        [
            query.arguments(
                {
                    "job_id": job_id,
                    "position": first_position + i,
                    "now": now,
                    "message": storable_message(text),
                }
            )
            for i, text in enumerate(texts)
        ],
    )
