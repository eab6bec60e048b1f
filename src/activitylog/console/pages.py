"""The console's pages: Activity (the domain's jobs) and Job (one job, and Cancel).

Each page has a live part that the browser fetches again when the page's event stream
(streams.py) says something changed; the page itself adds no polling loop.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from urllib.parse import urlencode

import msgspec
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from activitylog import errors
from activitylog.client import paths
from activitylog.console.forms import read_form
from activitylog.console.job_steps import job_steps
from activitylog.console.rendering import render
from activitylog.console.sessions import Session, csrf_matches
from activitylog.console.signing_in import refusal
from activitylog.domain.dates import now_ms
from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus, is_terminal
from activitylog.domain.search import JobQuery, Keyset, parse_job_query, parse_whole_number
from activitylog.http.auth import ROLES
from activitylog.http.bodies import encode, job_body
from activitylog.http.cancel_api import cancel_and_record
from activitylog.http.context import AppContext
from activitylog.store.records import JobView

PAGE_SIZE = 50
MAX_MESSAGES = 300
"""The Job page lists a job's newest messages up to this many (the API serves them all): a
handler that writes thousands still leaves a page well under 200 KB."""
MAX_RAW_JSON = 60_000
"""Beyond this many characters the page links to the job's JSON instead of showing it."""
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


def can_operate(session: Session) -> bool:
    return ROLES.index(session.principal.role) >= ROLES.index("operator")


def refusal_of_form(session: Session, form: dict[str, str], doing: str) -> Response | None:
    """A state-changing form's refusal (403), or None: its CSRF token must be the session's,
    and ``doing`` ("cancelling", say) needs the operator role."""
    if not csrf_matches(session, form.get("csrf_token")):
        return refusal("The form has expired; reload the page and try again.", 403, session)
    if not can_operate(session):
        role = session.principal.role
        return refusal(f"Your role is {role}; {doing} needs operator.", 403, session)
    return None


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
        "jobs": [_job_row(view, context) for view in views],
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


def _job_row(view: JobView, context: AppContext) -> dict[str, Any]:
    end = view.end_date if view.end_date is not None else now_ms()
    return {
        "view": view,
        "status": context.job_answers.warn.status(view.service_type, view.status),
        "duration_ms": end - view.start_date,
        "ended": view.end_date is not None,
    }


async def job_page(request: Request, context: AppContext, session: Session) -> Response:
    values = await _job_values(request, context, session)
    if values is None:
        return refusal("There is no such job in your identity domain.", 404, session)
    return render("job.html", **values)


async def job_live(request: Request, context: AppContext, session: Session) -> Response:
    values = await _job_values(request, context, session)
    if values is None:
        return refusal("There is no such job in your identity domain.", 404, session)
    return render("job_live.html", **values)


async def _job_values(
    request: Request, context: AppContext, session: Session
) -> dict[str, Any] | None:
    job_id = _job_id(request)
    view = (
        None if job_id is None else await context.store.get_job(session.principal.domain_id, job_id)
    )
    if view is None:
        return None
    body = job_body(view, context.job_answers.warn)
    fields = {k: v for k, v in msgspec.structs.asdict(body).items() if k != "messages"}
    api_path = paths.job_path(session.principal.domain_name, view.job_id)
    base = str(request.base_url).rstrip("/")
    curl = f"curl -u '{session.principal.user_name}' '{base}{api_path}'"
    raw_json = msgspec.json.format(encode(body), indent=2).decode()
    row = _job_row(view, context)
    return {
        "session": session,
        "view": view,
        "fields": fields,
        "status": body.status,
        "raw_json": raw_json if len(raw_json) <= MAX_RAW_JSON else "",
        "raw_json_size": len(raw_json),
        "curl": curl,
        "row": row,
        "messages": view.messages[-MAX_MESSAGES:],
        "steps": job_steps(view.messages, view.start_date, view.start_date + row["duration_ms"]),
        "terminal": is_terminal(view.status),
        "can_cancel": can_operate(session) and not is_terminal(view.status),
        "cancelled_by": _cancelled_by(view),
    }


def _job_id(request: Request) -> int | None:
    text: str = request.path_params["jobId"]
    return int(text) if text.isdigit() and len(text) < 19 else None


def _cancelled_by(view: JobView) -> str:
    """Who cancelled the job, as its messages say ("Cancellation requested by joe.")."""
    for message in reversed(view.messages):
        for prefix in ("Cancelled by ", "Cancellation requested by "):
            if message.text.startswith(prefix):
                return message.text[len(prefix) :].rstrip(".")
    return ""


async def cancel_job(request: Request, context: AppContext, session: Session) -> Response:
    refused = refusal_of_form(session, await read_form(request), "cancelling")
    if refused is not None:
        return refused
    principal = session.principal
    job_id = _job_id(request)
    if job_id is None:
        return refusal("There is no such job in your identity domain.", 404, session)
    try:
        await cancel_and_record(request, context, principal, job_id)
    except errors.JobNotFound:
        return refusal("There is no such job in your identity domain.", 404, session)
    except errors.Conflict:
        return RedirectResponse(f"/console/jobs/{job_id}", 303)  # it ended first: show how
    return RedirectResponse(f"/console/jobs/{job_id}", 303)
