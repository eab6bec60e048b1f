"""Builds the activity-log search SQL for either dialect from a validated JobQuery.

Only whitelisted column names (domain.search.ORDERABLE_FIELDS) are ever written into the
text; every value travels as a bind parameter.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from activitylog.domain.search import JobQuery

JOB_COLUMNS = (
    "activity_log_id, service_name, service_type, identity_domain, service_id, job_id, "
    "start_date, end_date, status, operation_type, auth_domain, auth_user, initiated_by, "
    "percent_complete, version"
)


@dataclasses.dataclass(frozen=True, slots=True)
class SearchSQL:
    page: str
    count: str
    params: list[Any]
    page_params: list[Any]


def build_search(domain_id: int, query: JobQuery, placeholder: Callable[[int], str]) -> SearchSQL:
    """``placeholder(n)`` renders the n-th bind parameter (1-based): ``?`` or ``$n``."""
    params: list[Any] = [domain_id]
    clauses = [f"domain_id = {placeholder(1)}"]

    def bind(value: Any) -> str:
        params.append(value)
        return placeholder(len(params))

    if query.service_name is not None:
        clauses.append(f"service_name = {bind(query.service_name)}")
    if query.service_type is not None:
        clauses.append(f"service_type = {bind(query.service_type)}")
    if query.statuses:
        clauses.append(f"status IN ({', '.join(bind(s) for s in query.statuses)})")
    if query.operation_types:
        marks = ", ".join(bind(o) for o in query.operation_types)
        clauses.append(f"operation_type IN ({marks})")
    if query.from_start_ms is not None:
        clauses.append(f"start_date >= {bind(query.from_start_ms)}")
    if query.to_start_ms is not None:
        clauses.append(f"start_date <= {bind(query.to_start_ms)}")
    where = " AND ".join(clauses)
    order = _order_clause(query)
    page_params = [*params, query.limit, query.offset]
    limit_mark, offset_mark = placeholder(len(params) + 1), placeholder(len(params) + 2)
    return SearchSQL(
        page=f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY {order} "
        f"LIMIT {limit_mark} OFFSET {offset_mark}",
        count=f"SELECT count(*) FROM jobs WHERE {where}",
        params=params,
        page_params=page_params,
    )


def _order_clause(query: JobQuery) -> str:
    terms = [_order_term(column, ascending) for column, ascending in query.order_by]
    if not any(column == "job_id" for column, _ in query.order_by):
        # A stable tie-break, so that paging never skips or repeats a job.
        last_ascending = query.order_by[-1][1] if query.order_by else False
        terms.append(f"job_id {'ASC' if last_ascending else 'DESC'}")
    return ", ".join(terms)


def _order_term(column: str, ascending: bool) -> str:
    # Both dialects must agree on where running jobs (no end date) sort: last.
    nulls = " NULLS LAST" if column == "end_date" else ""
    return f"{column} {'ASC' if ascending else 'DESC'}{nulls}"
