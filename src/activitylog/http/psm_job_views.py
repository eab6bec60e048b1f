"""PSM's other views of the same jobs: Oracle Cloud Stack's activity log, and Java Cloud
Service's lifecycle-operation status (202 while the job runs, 200 once it ended)."""

from __future__ import annotations

import dataclasses

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitylog import errors
from activitylog.client import paths
from activitylog.domain.dates import format_timestamp
from activitylog.domain.instances import InstanceState, oracle_status
from activitylog.domain.jobs import is_terminal
from activitylog.domain.search import parse_job_query
from activitylog.http.auth import Principal
from activitylog.http.bodies import ActivityLogPage, encode, job_body
from activitylog.http.context import AppContext, authenticate, parse_id
from activitylog.http.links import link_base
from activitylog.store.records import Instance, JobView

_JSON = "application/json"
CLOUD_STACK = "cloudstack"
"""The service type of Cloud Stack's jobs, as its activity log names it."""
JCS_REQUEST_NAMES = ("create", "delete", "control", "scale")


async def stack_activity_log(request: Request) -> Response:
    """A stack's jobs, newest first; the filter's parameters page and narrow them."""
    context, principal = await authenticate(request, "viewer")
    query = parse_job_query(request.query_params.multi_items())
    query = dataclasses.replace(
        query, service_name=request.path_params["stackName"], service_type=CLOUD_STACK
    )
    views, total = await context.store.search_jobs(principal.domain_id, query)
    warn = context.job_answers.warn
    page = ActivityLogPage([job_body(view, warn) for view in views], total)
    return Response(encode(page), media_type=_JSON)


async def stack_job(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    job_id = parse_id(request.path_params["jobId"], "jobId")
    view = await context.store.get_job(principal.domain_id, job_id)
    if view is None or view.service_type != CLOUD_STACK:
        raise errors.JobNotFound(
            f"No stack job [{job_id}] in identity domain [{principal.domain_name}]."
        )
    return Response(encode(job_body(view, context.job_answers.warn)), media_type=_JSON)


class LifecycleStatusBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """JCS's lifecyclestatus-response: the instance, then the job (our ``job_*`` names)."""

    service_name: str
    identity_domain: str
    description: str
    status: str
    created_by: str
    creation_time: str | None = None
    last_modified_time: str | None = None
    service_uri: str
    message: list[str]
    job_id: str
    job_operation: str
    job_status: str
    job_start_date: str
    job_end_date: str | None = None


async def jcs_lifecycle_status(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    request_name = request.path_params["requestName"]
    job_id = parse_id(request.path_params["jobId"], "jobId")
    if request_name not in JCS_REQUEST_NAMES:
        expected = ", ".join(JCS_REQUEST_NAMES)
        raise errors.InvalidRequest(
            f"Unknown request name {request_name[:40]!r}.",
            [f"requestName: expected one of {expected}"],
        )
    view = await context.store.get_job(principal.domain_id, job_id)
    if view is None:
        raise errors.JobNotFound(f"No job [{job_id}] in identity domain [{principal.domain_name}].")
    instance = await context.store.get_instance(
        principal.domain_id, view.service_type, view.service_name
    )
    body = _lifecycle_status(request, context, principal, view, instance)
    return Response(encode(body), 200 if is_terminal(view.status) else 202, media_type=_JSON)


def _lifecycle_status(
    request: Request,
    context: AppContext,
    principal: Principal,
    view: JobView,
    instance: Instance | None,
) -> LifecycleStatusBody:
    # A deleted instance is gone from the store: its job still says who and when.
    state = InstanceState(instance.state) if instance else InstanceState.DELETED
    instance_path = paths.instance_path(principal.domain_name, view.service_type, view.service_name)
    return LifecycleStatusBody(
        service_name=view.service_name,
        identity_domain=view.identity_domain,
        description=instance.description if instance else "",
        status=oracle_status(state),
        created_by=instance.created_by if instance else view.auth_user,
        creation_time=format_timestamp(instance.created_at) if instance else None,
        last_modified_time=format_timestamp(instance.updated_at) if instance else None,
        service_uri=f"{link_base(request, context.settings)}{instance_path}",
        message=[message.text for message in view.messages],
        job_id=str(view.job_id),
        job_operation=view.operation_type,
        job_status=context.job_answers.warn.status(view.service_type, view.status),
        job_start_date=format_timestamp(view.start_date),
        job_end_date=None if view.end_date is None else format_timestamp(view.end_date),
    )


routes = [
    # stack/job/{jobId} cannot be taken for a stack named "job": the stack route has one segment.
    Route(paths.STACK_JOB, stack_job, methods=["GET"]),
    Route(paths.STACK, stack_activity_log, methods=["GET"]),
    Route(paths.JCS_LIFECYCLE_STATUS, jcs_lifecycle_status, methods=["GET"]),
]
