"""The activity-log search: its parameters, validated into a query any store can run."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from activitylog import errors
from activitylog.domain.dates import parse_filter_date
from activitylog.domain.jobs import JobStatus

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_BIGINT = 2**63 - 1  # the largest id or offset a store's BIGINT column holds
_DAY_MS = 86_400_000
DEFAULT_ORDER: tuple[tuple[str, bool], ...] = (("start_date", False),)  # (column, ascending)

# API field name -> store column; the only names `orderBy` accepts.
ORDERABLE_FIELDS: dict[str, str] = {
    "startDate": "start_date",
    "endDate": "end_date",
    "serviceName": "service_name",
    "serviceType": "service_type",
    "status": "status",
    "operationType": "operation_type",
    "jobId": "job_id",
    "activityLogId": "activity_log_id",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Keyset:
    """A page next to one job in the default order (newest first, then by job id): the jobs
    just older than it, or just newer. Unlike an offset, it costs the same at any depth, and
    keeps its place while new jobs arrive. The console's paging; not in the PSM API."""

    start_ms: int
    job_id: int
    older: bool


@dataclasses.dataclass(frozen=True, slots=True)
class JobQuery:
    service_name: str | None = None
    service_type: str | None = None
    statuses: tuple[str, ...] = ()
    operation_types: tuple[str, ...] = ()
    from_start_ms: int | None = None
    to_start_ms: int | None = None
    order_by: tuple[tuple[str, bool], ...] = DEFAULT_ORDER
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    keyset: Keyset | None = None
    """Instead of the offset, with the default order only."""


def parse_job_query(params: Iterable[tuple[str, str]]) -> JobQuery:
    """Validate the filter's query parameters; raise InvalidRequest listing every problem."""
    issues: list[str] = []
    single: dict[str, str] = {}
    statuses: list[str] = []
    operation_types: list[str] = []
    for key, value in params:
        if key == "status":
            statuses.extend(_split_values(value))
        elif key == "operationType":
            operation_types.extend(_split_values(value))
        else:
            single[key] = value
    issues.extend(
        f"status: unknown value {status!r}; use one of NEW, RUNNING, SUCCEED, FAILED, WARN"
        for status in statuses
        if status not in JobStatus.__members__
    )
    query = JobQuery(
        service_name=single.get("serviceName") or None,
        service_type=single.get("serviceType") or None,
        statuses=tuple(dict.fromkeys(statuses)),
        operation_types=tuple(dict.fromkeys(operation_types)),
        from_start_ms=_date_param(single, "fromStartDate", issues, end_of_day=False),
        to_start_ms=_date_param(single, "toStartDate", issues, end_of_day=True),
        order_by=_order_by(single.get("orderBy"), issues),
        limit=min(_int_param(single, "limit", DEFAULT_LIMIT, issues), MAX_LIMIT),
        offset=_int_param(single, "offset", 0, issues),
    )
    if issues:
        raise errors.InvalidRequest("Invalid filter parameters.", issues)
    return query


def _split_values(value: str) -> list[str]:
    # Both `?status=A&status=B` and `?status=A,B` are seen in the wild.
    return [part.strip() for part in value.split(",") if part.strip()]


def _date_param(
    params: dict[str, str], name: str, issues: list[str], *, end_of_day: bool
) -> int | None:
    text = params.get(name)
    if not text:
        return None
    try:
        epoch_ms = parse_filter_date(text)
    except (ValueError, OverflowError):
        issues.append(
            f"{name}: cannot read {text!r}; use yyyy-MM-dd, yyyy-MM-dd'T'HH:mm:ss.SSSZ, "
            "yyyy-MM-dd HH:mm:ss or yyyy-MM-dd'T'HH:mm:ss"
        )
        return None
    # A bare date as the upper bound covers that whole day.
    if end_of_day and len(text.strip()) == 10:
        epoch_ms += _DAY_MS - 1
    return epoch_ms


def parse_whole_number(text: str) -> int | None:
    """``text`` as an integer from 0 to MAX_BIGINT, or None when it is anything else."""
    # The length check comes first: int() refuses, with ValueError, text of over 4300 digits.
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(MAX_BIGINT)):
        return None
    value = int(text)
    return value if value <= MAX_BIGINT else None


def _int_param(params: dict[str, str], name: str, default: int, issues: list[str]) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    value = parse_whole_number(text.strip())
    if value is None:
        issues.append(f"{name}: expected a whole number from 0 to {MAX_BIGINT}, got {text!r}")
        return default
    return value


def _order_by(text: str | None, issues: list[str]) -> tuple[tuple[str, bool], ...]:
    if not text:
        return DEFAULT_ORDER
    order: list[tuple[str, bool]] = []
    for term in text.split(","):
        field, _, direction = term.strip().partition(":")
        column = ORDERABLE_FIELDS.get(field)
        if column is None:
            issues.append(
                f"orderBy: cannot order by {field!r}; use one of {', '.join(ORDERABLE_FIELDS)}"
            )
            continue
        if direction.lower() not in ("", "asc", "desc"):
            issues.append(f"orderBy: direction must be asc or desc, got {direction!r}")
            continue
        order.append((column, direction.lower() != "desc"))
    return tuple(order) or DEFAULT_ORDER


def job_matches(query: JobQuery, job: Any) -> bool:
    """Whether a job (anything with JobView's attributes) matches the query's filters."""
    checks = (
        query.service_name is None or job.service_name == query.service_name,
        query.service_type is None or job.service_type == query.service_type,
        not query.statuses or job.status in query.statuses,
        not query.operation_types or job.operation_type in query.operation_types,
        query.from_start_ms is None or job.start_date >= query.from_start_ms,
        query.to_start_ms is None or job.start_date <= query.to_start_ms,
    )
    return all(checks)
