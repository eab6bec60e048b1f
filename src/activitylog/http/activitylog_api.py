"""The read side: /paas/api/v1.1/activitylog/{domain}/job, message and filter."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitylog import errors
from activitylog.domain.jobs import is_terminal
from activitylog.domain.search import parse_job_query
from activitylog.http.bodies import ActivityLogPage, encode, job_body
from activitylog.http.context import authenticate, parse_id

PREFIX = "/paas/api/v1.1/activitylog/{domain}"
_JSON = "application/json"


async def get_job(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    job_id = parse_id(request.path_params["job_id"], "jobId")
    body = context.ended_jobs.get(principal.domain_id, job_id)
    if body is None:
        view = await context.store.get_job(principal.domain_id, job_id)
        if view is None:
            raise errors.JobNotFound(
                f"No job [{job_id}] in identity domain [{principal.domain_name}]."
            )
        body = encode(job_body(view))
        if is_terminal(view.status):
            context.ended_jobs.put(principal.domain_id, job_id, body)
    return Response(body, media_type=_JSON)


async def get_message(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    log_id = parse_id(request.path_params["log_id"], "logId")
    view = await context.store.get_job_by_log_id(principal.domain_id, log_id)
    if view is None:
        raise errors.NotFound(
            f"No activity log record [{log_id}] in identity domain [{principal.domain_name}]."
        )
    return Response(encode(job_body(view)), media_type=_JSON)


async def filter_activities(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    query = parse_job_query(request.query_params.multi_items())
    views, total = await context.store.search_jobs(principal.domain_id, query)
    page = ActivityLogPage([job_body(view) for view in views], total)
    return Response(encode(page), media_type=_JSON)


routes = [
    Route(f"{PREFIX}/job/{{job_id}}", get_job, methods=["GET"]),
    Route(f"{PREFIX}/message/{{log_id}}", get_message, methods=["GET"]),
    Route(f"{PREFIX}/filter", filter_activities, methods=["GET"]),
]
