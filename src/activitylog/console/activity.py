"""The Activity page: the domain's jobs, newest first, filtered as the API's `filter` is, with
the counts per status, paged by keyset; its list is fetched again when the domain's stream
says something changed (streams.py)."""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from activitylog import errors
from activitylog.console.rendering import render
from activitylog.console.sessions import Session
from activitylog.domain.dates import now_ms
from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.domain.search import JobQuery, Keyset, parse_job_query, parse_whole_number
from activitylog.http.context import AppContext
from activitylog.store.records import JobView

PAGE_SIZE = 50
# The filter's parameters the Activity page keeps in its URL (and passes to `filter` as is).
FILTER_PARAMETERS = (
    "status",
    "operationType",
    "serviceType",
    "serviceName",
    "fromStartDate",
    "toStartDate",
    "offset",
)
# A page next to a job (Keyset): `older=<start date, epoch ms>.<job id>`, or `newer=`.
KEYSET_PARAMETERS = ("older", "newer")


def _filter_items(request: Request) -> list[tuple[str, str]]:
    return [
        (key, value)
        for key, value in request.query_params.multi_items()
        if key in FILTER_PARAMETERS and value
    ]


async def activity_page(request: Request, context: AppContext, session: Session) -> Response:
    values = await _activity_values(request, context, session)
    return render("activity.html", **values)


async def activity_live(request: Request, context: AppContext, session: Session) -> Response:
    values = await _activity_values(request, context, session)
    return render("activity_live.html", **values)


async def _activity_values(
    request: Request, context: AppContext, session: Session
) -> dict[str, Any]:
    items = _filter_items(request)
    domain_id = session.principal.domain_id
    query: JobQuery | None = None
    views: list[JobView] = []
    counts: dict[str, int] = {}
    pages: dict[str, str] = {}
    problem = ""
    try:
        # One row more than the page: whether there is another page that way.
        query = parse_job_query([*items, ("limit", str(PAGE_SIZE + 1))])
        query = dataclasses.replace(query, keyset=_keyset(request))
    except errors.InvalidRequest as invalid:
        problem = "; ".join(invalid.issues or [invalid.message])
    else:
        views, counts = await context.store.browse_jobs(domain_id, query)
        if query.keyset is not None and not query.keyset.older and len(views) <= PAGE_SIZE:
            # Nothing newer beyond this page: show the newest page, full.
            query = dataclasses.replace(query, keyset=None, offset=0)
            views, counts = await context.store.browse_jobs(domain_id, query)
        views, pages = _paging(items, query, views)
    chosen = [value for key, value in items if key == "status"]
    statuses = query.statuses if query is not None and query.statuses else counts
    return {
        "session": session,
        "problem": problem,
        "jobs": [job_row(view, context) for view in views],
        "total": sum(counts[status] for status in statuses),
        "counts": counts,
        "filters": dict(items),
        "chosen_statuses": {s for value in chosen for s in value.split(",")},
        "chosen_operations": {v for k, v in items if k == "operationType"},
        "statuses": list(JobStatus),
        "operation_types": list(OperationType),
        "service_types": sorted(context.registry.names()),
        "live_query": urlencode(_place(items, query)),
        "pages": pages,
    }


def _keyset(request: Request) -> Keyset | None:
    """The page's place as its link gives it: `older` or `newer` than a job, given as
    `<start date, epoch ms>.<job id>`; None for an `offset` (or the first) page."""
    for key in KEYSET_PARAMETERS:
        text = request.query_params.get(key)
        if not text:
            continue
        start, _, job = text.partition(".")
        start_ms, job_id = parse_whole_number(start), parse_whole_number(job)
        if start_ms is None or job_id is None:
            issue = f"{key}: this page's link is not one the console made; start from the newest"
            raise errors.InvalidRequest("Invalid page.", [issue])
        return Keyset(start_ms, job_id, older=key == "older")
    return None


def _place(items: list[tuple[str, str]], query: JobQuery | None) -> list[tuple[str, str]]:
    """The filters and the page's place, as the page's URL says them."""
    if query is None or query.keyset is None:
        return items
    keyset = query.keyset
    kept = [(k, v) for k, v in items if k != "offset"]
    return [*kept, ("older" if keyset.older else "newer", f"{keyset.start_ms}.{keyset.job_id}")]


def _paging(
    items: list[tuple[str, str]], query: JobQuery, views: list[JobView]
) -> tuple[list[JobView], dict[str, str]]:
    """The page's rows (``views`` has one more row on the side there is more) and its Newer and
    Older links: keyset links, next to its first and last rows, that cost the same at any depth
    and keep their place while new jobs arrive."""
    keyset = query.keyset
    if keyset is not None and not keyset.older:
        more_older, more_newer = True, len(views) > PAGE_SIZE
        views = views[-PAGE_SIZE:]
    else:
        more_older, more_newer = len(views) > PAGE_SIZE, keyset is not None or query.offset > 0
        views = views[:PAGE_SIZE]
    kept = [(k, v) for k, v in items if k != "offset"]
    if not views:
        return views, {"newer": urlencode(kept)} if more_newer else {}
    pages = {}
    if more_newer:
        pages["newer"] = urlencode([*kept, ("newer", _key(views[0]))])
    if more_older:
        pages["older"] = urlencode([*kept, ("older", _key(views[-1]))])
    return views, pages


def _key(view: JobView) -> str:
    return f"{view.start_date}.{view.job_id}"


def job_row(view: JobView, context: AppContext) -> dict[str, Any]:
    end = view.end_date if view.end_date is not None else now_ms()
    return {
        "view": view,
        "status": context.job_answers.warn.status(view.service_type, view.status),
        "duration_ms": end - view.start_date,
        "ended": view.end_date is not None,
    }
