"""Cancelling a job (our extension to PSM): POST .../activitylog/{domain}/job/{jobId}/cancel.

A NEW job ends FAILED at once (200, with the ended job). A RUNNING one is asked to stop: its
worker sees the request, the handler may wind down, and the job ends FAILED soon after (202,
with the job as it is now). A job that has ended already gets 409; the cancellation and the
job's end are one compare-and-set in the store, so whichever commits first wins.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitylog import errors, metrics
from activitylog.client import paths
from activitylog.domain import audit
from activitylog.domain.jobs import is_terminal
from activitylog.http.audit import record_event
from activitylog.http.auth import Principal
from activitylog.http.bodies import encode, job_body
from activitylog.http.context import AppContext, authenticate, parse_id
from activitylog.store.records import JobView

_JSON = "application/json"


async def cancel_job(request: Request) -> Response:
    context, principal = await authenticate(request, "operator")
    job_id = parse_id(request.path_params["jobId"], "jobId")
    try:
        view = await cancel_and_record(request, context, principal, job_id)
    except errors.JobNotFound:
        raise errors.JobNotFound(
            f"No job [{job_id}] in identity domain [{principal.domain_name}]."
        ) from None
    status_code = 200 if is_terminal(view.status) else 202
    body = job_body(view, context.job_answers.warn)
    return Response(encode(body), status_code, media_type=_JSON)


async def cancel_and_record(
    request: Request, context: AppContext, principal: Principal, job_id: int
) -> JobView:
    """Cancel the job as ``principal``, count it and write its audit event: the API's route
    and the console's form both cancel through here. Raises what Store.cancel_job raises."""
    view = await context.store.cancel_job(principal.domain_id, job_id, principal.user_name)
    metrics.JOB_CANCELLATIONS.inc()
    await record_event(
        context.store,
        request,
        principal,
        audit.JOB_CANCELLED,
        f"job {job_id}",
        jobId=job_id,
        serviceName=view.service_name,
        serviceType=view.service_type,
    )
    return view


routes = [Route(paths.JOB_CANCEL, cancel_job, methods=["POST"])]
