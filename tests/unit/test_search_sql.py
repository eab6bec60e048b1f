"""store.search_sql: which count a query gets, and bind parameters that match the text."""

from __future__ import annotations

import re

import pytest

from activitylog.domain.search import MAX_BIGINT, JobQuery
from activitylog.store.search_sql import build_search

QUERIES = {
    "nothing": JobQuery(),
    "statuses": JobQuery(statuses=("NEW", "FAILED"), offset=5),
    "service name": JobQuery(service_name="MyCache", statuses=("RUNNING",)),
    "service type": JobQuery(service_type="jaas"),
    "operation types": JobQuery(operation_types=("CREATE_SERVICE", "BACKUP")),
    "dates": JobQuery(from_start_ms=1, to_start_ms=2, order_by=(("end_date", True),)),
    "deep": JobQuery(offset=MAX_BIGINT, limit=1000),
}


def question_marks(sql: str) -> int:
    return sql.count("?")


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_positional_parameters_match_their_marks(query: JobQuery) -> None:
    sql = build_search(7, query, lambda _: "?")
    assert question_marks(sql.count) == len(sql.params)
    assert question_marks(sql.page) == len(sql.page_params)


@pytest.mark.parametrize("query", QUERIES.values(), ids=QUERIES.keys())
def test_numbered_parameters_are_numbered_in_order(query: JobQuery) -> None:
    sql = build_search(7, query, lambda n: f"${n}")
    for text, params in ((sql.count, sql.params), (sql.page, sql.page_params)):
        numbers = [int(n) for n in re.findall(r"\$(\d+)", text)]
        assert numbers == list(range(1, len(params) + 1))


def test_status_and_type_queries_read_the_kept_counts() -> None:
    for name in ("nothing", "statuses", "service type"):
        sql = build_search(7, QUERIES[name], lambda _: "?")
        assert "FROM job_counts" in sql.count
        assert "FROM job_counts" in sql.page  # it pages from either end
    for name in ("service name", "operation types", "dates"):
        sql = build_search(7, QUERIES[name], lambda _: "?")
        assert sql.count.startswith("SELECT count(*) FROM jobs WHERE domain_id = ?")
        assert "job_counts" not in sql.page


def test_values_travel_as_parameters_never_as_text() -> None:
    query = JobQuery(service_name="x' OR 1=1 --", statuses=("FAILED",))
    sql = build_search(7, query, lambda _: "?")
    assert "OR 1=1" not in sql.page + sql.count
    assert sql.params == [7, "x' OR 1=1 --", "FAILED"]
    assert sql.page_params == [*sql.params, 100, 0]


@pytest.mark.parametrize(
    ("order_by", "clause"),
    [
        ((("start_date", False),), "start_date DESC, job_id DESC"),
        ((("status", True),), "status ASC, start_date ASC, job_id ASC"),
        ((("service_type", False),), "service_type DESC, start_date DESC, job_id DESC"),
        ((("operation_type", True),), "operation_type ASC, start_date ASC, job_id ASC"),
        ((("service_name", True),), "service_name ASC, start_date ASC, job_id ASC"),
        ((("status", True), ("start_date", False)), "status ASC, start_date DESC, job_id DESC"),
        ((("end_date", True),), "end_date ASC NULLS LAST, job_id ASC"),
        ((("job_id", False),), "job_id DESC"),
    ],
)
def test_ties_are_broken_in_the_order_of_the_filter_indexes(
    order_by: tuple[tuple[str, bool], ...], clause: str
) -> None:
    # A status (type, operation, name) order goes on by start date, as its index does, so
    # that the index gives the page without a sort; the job id settles what is left.
    page = build_search(7, JobQuery(order_by=order_by), lambda _: "?").page
    assert f"ORDER BY {clause}" in page
