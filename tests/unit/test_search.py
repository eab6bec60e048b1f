"""domain.search.parse_job_query: the filter's parameters, validated, every problem listed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activitylog import errors
from activitylog.domain.search import (
    DEFAULT_LIMIT,
    DEFAULT_ORDER,
    MAX_LIMIT,
    JobQuery,
    parse_job_query,
)

APRIL_12 = 1_491_955_200_000  # 2017-04-12T00:00:00.000Z
DAY_MS = 86_400_000
PARAMETERS = [
    "serviceName",
    "serviceType",
    "status",
    "operationType",
    "fromStartDate",
    "toStartDate",
    "orderBy",
    "limit",
    "offset",
]


def issues_of(params: list[tuple[str, str]]) -> list[str]:
    with pytest.raises(errors.InvalidRequest) as raised:
        parse_job_query(params)
    assert raised.value.status_code == 400
    return raised.value.issues


def test_no_parameters_give_the_defaults() -> None:
    query = parse_job_query([])
    assert query == JobQuery()
    assert query.order_by == DEFAULT_ORDER == (("start_date", False),)
    assert (query.limit, query.offset) == (DEFAULT_LIMIT, 0)


def test_exact_matches() -> None:
    query = parse_job_query([("serviceName", "MyCache"), ("serviceType", "caching")])
    assert (query.service_name, query.service_type) == ("MyCache", "caching")


def test_empty_values_mean_absent() -> None:
    empty = [(name, "") for name in PARAMETERS]
    assert parse_job_query(empty) == JobQuery()


def test_status_is_repeatable_comma_separated_and_deduplicated() -> None:
    query = parse_job_query(
        [("status", "RUNNING"), ("status", "FAILED, WARN"), ("status", "RUNNING")]
    )
    assert query.statuses == ("RUNNING", "FAILED", "WARN")


def test_operation_type_is_an_open_set() -> None:
    query = parse_job_query(
        [("operationType", "CREATE_SERVICE"), ("operationType", "BACKUP,CREATE_SERVICE")]
    )
    assert query.operation_types == ("CREATE_SERVICE", "BACKUP")


def test_dates() -> None:
    query = parse_job_query(
        [("fromStartDate", "2017-04-12T16:01:28.238+0000"), ("toStartDate", "2017-04-13 00:00:00")]
    )
    assert query.from_start_ms == 1_492_012_888_238
    assert query.to_start_ms == APRIL_12 + DAY_MS


def test_a_bare_date_as_upper_bound_covers_that_whole_day() -> None:
    query = parse_job_query([("fromStartDate", "2017-04-12"), ("toStartDate", "2017-04-12")])
    assert query.from_start_ms == APRIL_12
    assert query.to_start_ms == APRIL_12 + DAY_MS - 1


@pytest.mark.parametrize(
    ("text", "order"),
    [
        ("serviceName:asc", (("service_name", True),)),
        ("startDate:desc", (("start_date", False),)),
        ("endDate:DESC", (("end_date", False),)),
        ("jobId", (("job_id", True),)),
        (
            "status:desc, activityLogId:asc",
            (("status", False), ("activity_log_id", True)),
        ),
    ],
)
def test_order_by(text: str, order: tuple[tuple[str, bool], ...]) -> None:
    assert parse_job_query([("orderBy", text)]).order_by == order


def test_paging() -> None:
    query = parse_job_query([("limit", "10"), ("offset", "20")])
    assert (query.limit, query.offset) == (10, 20)


def test_limit_is_capped() -> None:
    assert parse_job_query([("limit", str(MAX_LIMIT + 1))]).limit == MAX_LIMIT


def test_unknown_parameters_are_ignored() -> None:
    assert parse_job_query([("computeSiteName", "x"), ("verbose", "true")]) == JobQuery()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", "running"),
        ("status", "CANCELLED"),
        ("fromStartDate", "yesterday"),
        ("fromStartDate", "2017-02-30"),
        ("toStartDate", "2017-04-12T16:01:28+2400"),
        ("orderBy", "nope:asc"),
        ("orderBy", "startDate:sideways"),
        ("orderBy", "startDate,"),
        ("limit", "-1"),
        ("limit", "ten"),
        ("limit", "1.5"),
        ("limit", "\u0661"),  # a digit, but not an ASCII one
        pytest.param("limit", "9" * 5000, id="limit-5000-digits"),  # int() raises ValueError
        ("offset", "-5"),
        ("offset", str(2**63)),  # more than any store's BIGINT holds
    ],
)
def test_one_bad_parameter_one_issue_naming_it(name: str, value: str) -> None:
    issues = issues_of([(name, value)])
    assert len(issues) == 1
    assert issues[0].startswith(f"{name}: ")


def test_every_problem_is_listed() -> None:
    issues = issues_of(
        [
            ("status", "BOGUS"),
            ("status", "RUNNING,ALSO_BOGUS"),
            ("fromStartDate", "garbage"),
            ("toStartDate", "garbage"),
            ("orderBy", "nope,startDate:sideways"),
            ("limit", "x"),
            ("offset", "y"),
        ]
    )
    assert [issue.split(":")[0] for issue in issues] == [
        "status",
        "status",
        "fromStartDate",
        "toStartDate",
        "orderBy",
        "orderBy",
        "limit",
        "offset",
    ]
    assert "'BOGUS'" in issues[0]
    assert "'ALSO_BOGUS'" in issues[1]
    assert "'nope'" in issues[4]


def test_issues_tell_what_would_do() -> None:
    issues = issues_of([("status", "x"), ("fromStartDate", "x"), ("orderBy", "x")])
    assert "NEW, RUNNING, SUCCEED, FAILED, WARN" in issues[0]
    assert "yyyy-MM-dd" in issues[1]
    assert "serviceName" in issues[2]


@settings(deadline=None)  # a slow machine is not a failure
@given(
    st.lists(st.tuples(st.sampled_from([*PARAMETERS, "other"]) | st.text(max_size=10), st.text()))
)
def test_arbitrary_parameters_give_a_query_or_invalid_request(
    params: list[tuple[str, str]],
) -> None:
    try:
        query = parse_job_query(params)
    except errors.InvalidRequest as exc:
        problems = exc.issues
    else:
        assert 0 <= query.limit <= MAX_LIMIT
        assert query.offset >= 0
        assert query.order_by
        return
    assert problems
    assert all(problem.split(":")[0] in PARAMETERS for problem in problems)
