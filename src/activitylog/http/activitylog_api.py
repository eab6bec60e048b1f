"""The read side: the activity log's job, message, filter and event-stream routes."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitylog import errors
from activitylog.client import paths
from activitylog.domain.search import parse_job_query
from activitylog.http.bodies import ActivityLogPage, encode, job_body
from activitylog.http.context import authenticate, parse_id
from activitylog.http.events import domain_events, job_events
from activitylog.http.job_status import get_job

_JSON = "application/json"


async def get_message(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    log_id = parse_id(request.path_params["logId"], "logId")
    view = await context.store.get_job_by_log_id(principal.domain_id, log_id)
    if view is None:
        raise errors.NotFound(
            f"No activity log record [{log_id}] in identity domain [{principal.domain_name}]."
        )
    return Response(encode(job_body(view, context.job_answers.warn)), media_type=_JSON)


async def filter_activities(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    query = parse_job_query(request.query_params.multi_items())
    views, total = await context.store.search_jobs(principal.domain_id, query)
    warn = context.job_answers.warn
    page = ActivityLogPage([job_body(view, warn) for view in views], total)
    return Response(encode(page), media_type=_JSON)


routes = [
    Route(paths.JOB, get_job, methods=["GET"]),
    Route(paths.MESSAGE, get_message, methods=["GET"]),
    Route(paths.FILTER, filter_activities, methods=["GET"]),
    Route(paths.JOB_EVENTS, job_events, methods=["GET"]),
    Route(paths.DOMAIN_EVENTS, domain_events, methods=["GET"]),
]
