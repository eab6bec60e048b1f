"""The Services page: the domain's instances by service type, each with its state, its
parameters (size, shape) and its last operation; and for operators the forms that create,
start, stop, restart, scale and delete instances.

Every form submits through the API's own code (http/instancemgmt_api.Submission), so the
checks, the job and the audit event are the API's. A refused form shows the page again with
the API's message, what to do next, and what was typed.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from activitylog import errors
from activitylog.console.forms import can_operate, read_form, refusal_of_form
from activitylog.console.rendering import refusal, render
from activitylog.console.sessions import Session
from activitylog.domain.instances import InstanceState, OperationType, rule_for
from activitylog.domain.jobs import is_terminal
from activitylog.domain.parameters import DeclaredParameter
from activitylog.http.context import AppContext
from activitylog.http.instancemgmt_api import Submission, creation, submission_for
from activitylog.http.scale_requests import scale_parameters
from activitylog.http.service_types import OfferedServiceType
from activitylog.store.records import InstanceWithLastJob, SubmittedJob

PARAMETER_FIELD = "parameter."
"""The prefix of a declared parameter's form field, apart from the form's own fields."""
SHAPE_FIELD = "shape"
"""Scale's one field for a service type that declares no parameters: MySQL Cloud Service's
``{"shape": ...}`` body."""
# The buttons of an instance's row, in their order: what each asks, and the path's word.
ROW_ACTIONS = (
    (OperationType.START_SERVICE, "start", "Start"),
    (OperationType.STOP_SERVICE, "stop", "Stop"),
    (OperationType.RESTART_SERVICE, "restart", "Restart"),
    (OperationType.DELETE_SERVICE, "delete", "Delete"),
)
ACTIONS = {word: operation for operation, word, _ in ROW_ACTIONS} | {
    "scale": OperationType.SCALE_SERVICE,
}
_NEXT_STEPS: tuple[tuple[type[errors.ActivityLogError], str], ...] = (
    (errors.InstanceExists, "Choose another name, or delete the existing instance first."),
    (errors.OperationInFlight, "Wait for its current job to end (its last operation), then retry."),
    (errors.OperationNotAllowed, "Reload the page to see its state, and choose what it allows."),
    (errors.InstanceNotFound, "Reload the page: the instance may have been deleted meanwhile."),
    (errors.InvalidRequest, "Correct what is listed, and submit again."),
)


@dataclasses.dataclass(frozen=True, slots=True)
class Problem:
    """Why a form was refused, and what it held, to show the page again with both."""

    service_type: str
    operation: str
    service_name: str
    status_code: int
    """The API's: 400 or 409."""
    message: str
    issues: list[str]
    next_step: str
    values: dict[str, str]

    def holds(self, service_type: str, operation: str, service_name: str = "") -> bool:
        return (self.service_type, self.operation, self.service_name) == (
            service_type,
            operation,
            service_name,
        )


async def services_page(request: Request, context: AppContext, session: Session) -> Response:
    return render("services.html", **await _services_values(context, session))


async def services_live(request: Request, context: AppContext, session: Session) -> Response:
    return render("services_live.html", **await _services_values(context, session))


async def _services_values(
    context: AppContext, session: Session, problem: Problem | None = None
) -> dict[str, Any]:
    domain_id = session.principal.domain_id
    service_types = []
    for name in sorted(context.registry.names()):
        offered = context.registry.get(name)
        found = await context.store.list_instances_with_last_job(domain_id, name)
        service_types.append(_service_type_view(offered, found, context))
    return {
        "session": session,
        "can_operate": can_operate(session),
        "service_types": service_types,
        "problem": problem,
    }


def _service_type_view(
    offered: OfferedServiceType, found: list[InstanceWithLastJob], context: AppContext
) -> dict[str, Any]:
    declared = list(offered.parameters)
    return {
        "name": offered.name,
        "can_create": offered.offers(OperationType.CREATE_SERVICE),
        "create_fields": [_field(p, OperationType.CREATE_SERVICE) for p in declared],
        "scale_fields": [_field(p, OperationType.SCALE_SERVICE) for p in declared],
        "instances": [_instance_row(entry, offered, context) for entry in found],
    }


def _field(parameter: DeclaredParameter, operation: str) -> dict[str, Any]:
    """A form field for a declared parameter; the browser's own checks mirror the server's."""
    return {
        "name": PARAMETER_FIELD + parameter.name,
        "label": parameter.name,
        "kind": parameter.kind,
        "description": parameter.description,
        "required": operation in parameter.required_for,
        "enum": parameter.enum,
        "pattern": parameter.pattern,
        "max_length": parameter.max_length,
        "minimum": parameter.minimum,
        "maximum": parameter.maximum,
    }


def _instance_row(
    entry: InstanceWithLastJob, offered: OfferedServiceType, context: AppContext
) -> dict[str, Any]:
    instance, last = entry.instance, entry.last_job
    busy = last is not None and not is_terminal(last.status)
    state = InstanceState(instance.state)
    actions = [
        (word, label)
        for operation, word, label in ROW_ACTIONS
        if offered.offers(operation) and state in rule_for(operation).allowed_from
    ]
    scale = (
        offered.offers(OperationType.SCALE_SERVICE)
        and state in rule_for(OperationType.SCALE_SERVICE).allowed_from
    )
    return {
        "instance": instance,
        "parameters": ", ".join(f"{k}: {v}" for k, v in instance.parameters.items()),
        "last_job": last,
        "last_status": (
            context.job_answers.warn.status(instance.service_type, last.status) if last else ""
        ),
        "busy": busy,
        "actions": [] if busy else actions,
        "can_scale": scale and not busy,
    }


async def create_instance(request: Request, context: AppContext, session: Session) -> Response:
    return await _submit_form(request, context, session, OperationType.CREATE_SERVICE, "")


async def act_on_instance(request: Request, context: AppContext, session: Session) -> Response:
    """Start, stop, restart, scale or delete the instance, as the path's last word says."""
    operation = ACTIONS.get(request.path_params["action"])
    if operation is None:
        return refusal("There is no such operation; go back to Services.", 404, session)
    return await _submit_form(request, context, session, operation, request.path_params["name"])


async def _submit_form(
    request: Request, context: AppContext, session: Session, operation: str, service_name: str
) -> Response:
    """Submit the form's operation as the API does, and show its job; or the page again with
    why it was refused."""
    form = await read_form(request)
    refused = refusal_of_form(session, form, "Changing instances")
    if refused is not None:
        return refused
    service_type = request.path_params["serviceType"]
    try:
        submission = submission_for(request, context, session.principal, service_type, operation)
        submitted = await _submit(submission, service_name, form)
    except errors.NotFound as not_found:
        return refusal(not_found.message, 404, session)
    except (errors.InvalidRequest, errors.Conflict) as refused_by_api:
        problem = _problem(refused_by_api, service_type, operation, service_name, form)
        values = await _services_values(context, session, problem)
        return render("services.html", problem.status_code, **values)
    return RedirectResponse(f"/console/jobs/{submitted.job_id}", 303)


async def _submit(submission: Submission, service_name: str, form: dict[str, str]) -> SubmittedJob:
    """The form as the body the operation's API route reads, read as that route reads it."""
    if submission.operation == OperationType.CREATE_SERVICE:
        parameters = {"serviceName": form.get("serviceName", ""), **_parameters(form)}
        if form.get("serviceDescription"):
            parameters["serviceDescription"] = form["serviceDescription"]
        body: dict[str, Any] = {"serviceParameters": parameters}
        name, checked, description = creation(body)
        return await submission.submit(name, checked, body, description)
    if submission.operation == OperationType.SCALE_SERVICE:
        body = _scale_body(form)
        return await submission.submit(service_name, scale_parameters(body), body)
    return await submission.submit(service_name, {}, {})  # start, stop, restart, delete


def _parameters(form: dict[str, str]) -> dict[str, str]:
    """The declared parameters the form filled in; an empty field is one left out."""
    return {
        key.removeprefix(PARAMETER_FIELD): value
        for key, value in form.items()
        if key.startswith(PARAMETER_FIELD) and value != ""
    }


def _scale_body(form: dict[str, str]) -> dict[str, Any]:
    """The body the API's ``hosts/scale`` takes: the declared parameters, or else a shape."""
    if SHAPE_FIELD in form:
        return {"shape": form[SHAPE_FIELD]}
    return {"serviceParameters": _parameters(form)}


def _problem(
    refused: errors.ActivityLogError,
    service_type: str,
    operation: str,
    service_name: str,
    form: dict[str, str],
) -> Problem:
    issues = (refused.issues or []) if isinstance(refused, errors.InvalidRequest) else []
    next_step = next(
        (step for kind, step in _NEXT_STEPS if isinstance(refused, kind)),
        "Reload the page, and try again.",
    )
    values = {k: v for k, v in form.items() if k != "csrf_token"}
    return Problem(
        service_type,
        operation,
        service_name,
        refused.status_code,
        refused.message,
        issues,
        next_step,
        values,
    )
