"""Builds the activity-log search SQL for either dialect from a validated JobQuery.

Only whitelisted column names (domain.search.ORDERABLE_FIELDS) are ever written into the
text; every value travels as a bind parameter.

At a million jobs two things cost more than everything else: counting the matches, and
stepping over the rows before a deep page. So a query that filters on status and service type
only (or on nothing) reads its count from ``job_counts``, kept by triggers (migrations 0003 and
0006). The page's job ids are picked first, by a subquery that the indexes answer alone (they
end in the job id), and only those rows are then read whole. When the count is known that
cheaply, a page past the middle is taken from the other end, in reverse order, so that no page
steps over more than half the matches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from activitylog.domain.jobs import JobStatus
from activitylog.domain.search import DEFAULT_ORDER, JobQuery, Keyset

JOB_COLUMNS = (
    "activity_log_id, service_name, service_type, identity_domain, service_id, job_id, "
    "start_date, end_date, status, operation_type, auth_domain, auth_user, initiated_by, "
    "percent_complete, version"
)
_COUNTED = "SELECT CAST(coalesce(sum(jobs), 0) AS BIGINT) FROM job_counts WHERE {where}"
# From either end, whichever has fewer rows before the page; `matches - page_offset` is the
# number of rows from the page's start to the end (never overflows: both are at least 0).
_FORWARD_LIMIT = (
    "(SELECT CASE WHEN matches - page_offset < page_offset THEN 0 ELSE page_limit END FROM paging)"
)
_FORWARD_OFFSET = "(SELECT page_offset FROM paging)"
_BACKWARD_LIMIT = (
    "(SELECT CASE WHEN matches - page_offset >= page_offset OR matches <= page_offset THEN 0 "
    "WHEN matches - page_offset < page_limit THEN matches - page_offset "
    "ELSE page_limit END FROM paging)"
)
_BACKWARD_OFFSET = (
    "(SELECT CASE WHEN matches - page_offset > page_limit "
    "THEN matches - page_offset - page_limit ELSE 0 END FROM paging)"
)


@dataclasses.dataclass(frozen=True, slots=True)
class SearchSQL:
    page: str
    count: str
    params: list[Any]
    page_params: list[Any]


class _Binder:
    """Bind parameters in the order they appear in the text (SQLite's ``?`` are positional)."""

    def __init__(self, placeholder: Callable[[int], str]) -> None:
        self._placeholder = placeholder
        self.params: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.params.append(value)
        return self._placeholder(len(self.params))


def build_search(domain_id: int, query: JobQuery, placeholder: Callable[[int], str]) -> SearchSQL:
    """``placeholder(n)`` renders the n-th bind parameter (1-based): ``?`` or ``$n``."""
    count, page = _Binder(placeholder), _Binder(placeholder)
    where = _where(domain_id, query, count)
    if _counted(query):
        count_sql = _COUNTED.format(where=where)
    else:
        count_sql = f"SELECT count(*) FROM jobs WHERE {where}"
    return SearchSQL(_page(domain_id, query, page), count_sql, count.params, page.params)


def build_browse(domain_id: int, query: JobQuery, placeholder: Callable[[int], str]) -> SearchSQL:
    """The console's Activity page: its page of jobs, and (``count``) how many of the filter's
    jobs are in each status, whatever statuses it chose: rows of (status, jobs), from one
    grouped query."""
    count, page = _Binder(placeholder), _Binder(placeholder)
    where = _where(domain_id, dataclasses.replace(query, statuses=()), count)
    if _counted(query):
        count_sql = (
            "SELECT status, CAST(coalesce(sum(jobs), 0) AS BIGINT) AS jobs FROM job_counts "
            f"WHERE {where} GROUP BY status"
        )
    elif query.service_name is not None:
        # A name has a few jobs, but grouped by the status column SQLite reads the status
        # index for its order, and each job of the domain from it (1.4 s at a million jobs):
        # grouped by an expression, the name's index is chosen for the filter alone.
        count_sql = f"SELECT status || '' AS status, count(*) AS jobs FROM jobs WHERE {where} "
        count_sql += "GROUP BY 1"
    else:
        # Every status named: each status's range of an index that holds it (the status
        # index for a date range, 0009's with an operation type) is counted from the index.
        statuses = ", ".join(count(status.value) for status in JobStatus)
        count_sql = (
            f"SELECT status, count(*) AS jobs FROM jobs WHERE {where} "
            f"AND status IN ({statuses}) GROUP BY status"
        )
    return SearchSQL(_page(domain_id, query, page), count_sql, count.params, page.params)


def _page(domain_id: int, query: JobQuery, bind: _Binder) -> str:
    if query.keyset is not None:
        return _page_next_to(domain_id, query, query.keyset, bind)
    if _counted(query):
        return _page_from_either_end(domain_id, query, bind)
    return _page_from_start(domain_id, query, bind)


def _counted(query: JobQuery) -> bool:
    """Whether job_counts has the query's count: it filters on status and service type only,
    or on nothing."""
    return (
        query.service_name is None
        and not query.operation_types
        and query.from_start_ms is None
        and query.to_start_ms is None
    )


def _page_next_to(domain_id: int, query: JobQuery, keyset: Keyset, bind: _Binder) -> str:
    """The page just older (or newer) than the keyset's job: a range of the index from that
    job on, whatever its depth. The newer page is read upwards, then put newest first."""
    if query.order_by != DEFAULT_ORDER:
        raise ValueError("a keyset page is in the default order only")
    where = _where(domain_id, query, bind)
    # The first term is the index's range; the second only steps over the keyset's start date's
    # jobs on its own side of the keyset's job.
    beyond = "<" if keyset.older else ">"
    start, same_start = bind(keyset.start_ms), bind(keyset.start_ms)
    where += (
        f" AND start_date {beyond}= {start} AND (start_date {beyond} {same_start} "
        f"OR job_id {beyond} {bind(keyset.job_id)})"
    )
    order = _order_clause(query, reverse=not keyset.older)
    ids = f"SELECT job_id FROM jobs WHERE {where} ORDER BY {order} LIMIT {bind(query.limit)}"
    return f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id IN ({ids}) ORDER BY {_order_clause(query)}"


def _page_from_start(domain_id: int, query: JobQuery, bind: _Binder) -> str:
    where, order = _where(domain_id, query, bind), _order_clause(query)
    ids = f"SELECT job_id FROM jobs WHERE {where} ORDER BY {order} "
    ids += f"LIMIT {bind(query.limit)} OFFSET {bind(query.offset)}"
    return f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id IN ({ids}) ORDER BY {order}"


def _page_from_either_end(domain_id: int, query: JobQuery, bind: _Binder) -> str:
    offset, limit = bind(query.offset), bind(query.limit)
    matches = _COUNTED.format(where=_where(domain_id, query, bind))
    paging = (
        f"WITH paging AS (SELECT CAST({offset} AS BIGINT) AS page_offset, "
        f"CAST({limit} AS BIGINT) AS page_limit, ({matches}) AS matches) "
    )
    order, reverse = _order_clause(query), _order_clause(query, reverse=True)
    forward = (
        f"SELECT job_id FROM (SELECT job_id FROM jobs WHERE {_where(domain_id, query, bind)} "
        f"ORDER BY {order} LIMIT {_FORWARD_LIMIT} OFFSET {_FORWARD_OFFSET}) AS forward"
    )
    backward = (
        f"SELECT job_id FROM (SELECT job_id FROM jobs WHERE {_where(domain_id, query, bind)} "
        f"ORDER BY {reverse} LIMIT {_BACKWARD_LIMIT} OFFSET {_BACKWARD_OFFSET}) AS backward"
    )
    return (
        f"{paging}SELECT {JOB_COLUMNS} FROM jobs "
        f"WHERE job_id IN ({forward} UNION ALL {backward}) ORDER BY {order}"
    )


def _where(domain_id: int, query: JobQuery, bind: _Binder) -> str:
    clauses = [f"domain_id = {bind(domain_id)}"]
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
    return " AND ".join(clauses)


# Columns whose filter index goes on with the start date: ordered by one of these, the jobs
# that share its value come oldest (or, descending, newest) first, and the index gives the
# order as it is; ties broken by the job id alone were sorted, 61,000 FAILED jobs at a million.
_THEN_BY_START = frozenset({"status", "service_type", "operation_type", "service_name"})


def _order_clause(query: JobQuery, *, reverse: bool = False) -> str:
    """The order, or (``reverse``) exactly its reverse: the same rows, last first."""
    order = list(query.order_by)
    columns = {column for column, _ in order}
    if order and order[-1][0] in _THEN_BY_START and "start_date" not in columns:
        order.append(("start_date", order[-1][1]))
    if "job_id" not in columns:
        # A stable tie-break, so that paging never skips or repeats a job.
        order.append(("job_id", order[-1][1] if order else False))
    return ", ".join(
        _order_term(column, ascending != reverse, reverse) for column, ascending in order
    )


def _order_term(column: str, ascending: bool, reverse: bool) -> str:
    # Both dialects must agree on where running jobs (no end date) sort: last (first, reversed).
    nulls = f" NULLS {'FIRST' if reverse else 'LAST'}" if column == "end_date" else ""
    return f"{column} {'ASC' if ascending else 'DESC'}{nulls}"
