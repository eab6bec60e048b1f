"""The write side: PSM's instancemgmt operations, each answered 202 with a job."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitylog import errors
from activitylog.client import paths
from activitylog.domain import audit
from activitylog.domain.instances import SCALE_IN, SCALE_OUT, OperationType
from activitylog.http.audit import record_event
from activitylog.http.auth import Principal
from activitylog.http.bodies import (
    InstanceList,
    SubmittedBody,
    SubmittedDetails,
    encode,
    instance_body,
)
from activitylog.http.context import AppContext, authenticate, read_json_object, route
from activitylog.http.idempotency import idempotency_of
from activitylog.http.links import link_base
from activitylog.http.scale_requests import scale_out_parameters, scale_parameters
from activitylog.http.service_types import OfferedServiceType
from activitylog.store.records import OperationRequest, SubmittedJob

_JSON = "application/json"
# PSM's naming rule: a letter first, then letters, digits or hyphens; 50 characters at most.
# It also keeps commas out of the 202 message, which scripts split on.
SERVICE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,49}")
_VERBS: dict[str, str] = {
    OperationType.CREATE_SERVICE: "create",
    OperationType.DELETE_SERVICE: "delete",
    OperationType.START_SERVICE: "start",
    OperationType.STOP_SERVICE: "stop",
    OperationType.RESTART_SERVICE: "restart",
    OperationType.SCALE_SERVICE: "scale",
    SCALE_OUT: "scale out",
    SCALE_IN: "scale in",
}


async def create_instance(request: Request) -> Response:
    submission = await _authorize(request, OperationType.CREATE_SERVICE)
    body = await read_json_object(request, submission.context.settings.max_body_bytes)
    name, parameters, description = creation(body)
    submitted = await submission.submit(name, parameters, body, description)
    return submission.accepted(name, submitted)


async def delete_instance(request: Request) -> Response:
    submission = await _authorize(request, OperationType.DELETE_SERVICE)
    # Oracle's cache API deletes with `PUT {}`; DELETE may carry no body at all.
    body = await read_json_object(
        request, submission.context.settings.max_body_bytes, allow_empty=True
    )
    return await _submit(submission, request.path_params["name"], {}, body)


async def start_hosts(request: Request) -> Response:
    return await _host_operation(request, OperationType.START_SERVICE)


async def stop_hosts(request: Request) -> Response:
    return await _host_operation(request, OperationType.STOP_SERVICE)


async def restart_hosts(request: Request) -> Response:
    return await _host_operation(request, OperationType.RESTART_SERVICE)


async def scale_instance(request: Request) -> Response:
    submission = await _authorize(request, OperationType.SCALE_SERVICE)
    body = await read_json_object(request, submission.context.settings.max_body_bytes)
    return await _submit(submission, request.path_params["name"], _service_parameters(body), body)


async def scale_hosts(request: Request) -> Response:
    """PSM's scale up or down, with a Java or MySQL Cloud Service body (scale_requests)."""
    submission = await _authorize(request, OperationType.SCALE_SERVICE)
    body = await read_json_object(request, submission.context.settings.max_body_bytes)
    return await _submit(submission, request.path_params["name"], scale_parameters(body), body)


async def scale_out(request: Request) -> Response:
    return await _servers_operation(request, SCALE_OUT)


async def scale_in(request: Request) -> Response:
    return await _servers_operation(request, SCALE_IN)


async def _servers_operation(request: Request, operation: str) -> Response:
    submission = await _authorize(request, operation)
    body = await read_json_object(request, submission.context.settings.max_body_bytes)
    return await _submit(submission, request.path_params["name"], scale_out_parameters(body), body)


async def view_instance(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    service_type = context.registry.get(request.path_params["serviceType"]).name
    name = request.path_params["name"]
    instance = await context.store.get_instance(principal.domain_id, service_type, name)
    if instance is None:
        raise errors.InstanceNotFound(
            f"No {service_type} service [{name}] in identity domain [{principal.domain_name}]."
        )
    return Response(encode(instance_body(instance)), media_type=_JSON)


async def list_instances(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    service_type = context.registry.get(request.path_params["serviceType"]).name
    found = await context.store.list_instances(principal.domain_id, service_type)
    return Response(encode(InstanceList([instance_body(i) for i in found])), media_type=_JSON)


async def _host_operation(request: Request, operation: OperationType) -> Response:
    submission = await _authorize(request, operation)
    body = await read_json_object(
        request, submission.context.settings.max_body_bytes, allow_empty=True
    )
    return await _submit(submission, request.path_params["name"], dict(body), body)


@dataclasses.dataclass(frozen=True, slots=True)
class Submission:
    """An operation the caller may ask for, on a service type that offers it: the API's routes
    and the console's forms both submit through here, so that the parameters' checks, the
    Idempotency-Key, the job and the audit event are written once."""

    request: Request
    context: AppContext
    principal: Principal
    service_type: OfferedServiceType
    operation: str
    """An OperationType, or SCALE_OUT or SCALE_IN."""

    async def submit(
        self,
        service_name: str,
        parameters: dict[str, Any],
        body: dict[str, Any],
        description: str = "",
    ) -> SubmittedJob:
        """Record the job; ``body``, as sent, fingerprints an Idempotency-Key."""
        idempotency = idempotency_of(self.request, body)
        cleaned = self.service_type.check_parameters(self.operation, parameters)
        policy = self.service_type.policy_for(self.operation)
        domain = self.principal.domain_name
        submitted = await self.context.store.submit_operation(
            OperationRequest(
                domain_id=self.principal.domain_id,
                identity_domain=domain,
                service_type=self.service_type.name,
                service_name=service_name,
                operation_type=self.operation,
                parameters=cleaned,
                auth_domain=domain,
                auth_user=self.principal.user_name,
                description=description,
                max_attempts=policy.attempts,
                backoff_ms=round(policy.backoff * 1000),
                idempotency=idempotency,
            )
        )
        if self.operation == OperationType.DELETE_SERVICE and not submitted.replayed:
            await record_event(
                self.context.store,
                self.request,
                self.principal,
                audit.INSTANCE_DELETION_REQUESTED,
                service_name,
                serviceType=self.service_type.name,
                jobId=submitted.job_id,
            )
        return submitted

    def accepted(self, service_name: str, submitted: SubmittedJob) -> Response:
        """The API's 202: PSM's message, and the job's address in Location."""
        verb = _VERBS[self.operation]
        domain = self.principal.domain_name
        message = f"Submitted job to {verb} service [{service_name}] in domain [{domain}]."
        base = link_base(self.request, self.context.settings)
        location = f"{base}{paths.job_path(domain, submitted.job_id)}"
        answer = encode(SubmittedBody(SubmittedDetails(message, str(submitted.job_id))))
        return Response(answer, 202, headers={"Location": location}, media_type=_JSON)


def submission_for(
    request: Request,
    context: AppContext,
    principal: Principal,
    service_type_name: str,
    operation: str,
) -> Submission:
    """The submission of ``operation`` on the type, or raise ServiceTypeNotFound or NotFound
    (the type does not offer it). The caller has checked the principal's role."""
    service_type = context.registry.get(service_type_name)
    service_type.handler_for(operation)
    return Submission(request, context, principal, service_type, operation)


async def _authorize(request: Request, operation: str) -> Submission:
    # The service type and its operation are checked before the body is read, so that an
    # unknown service type is a 404 whatever the body holds.
    context, principal = await authenticate(request, "operator")
    return submission_for(
        request, context, principal, request.path_params["serviceType"], operation
    )


async def _submit(
    submission: Submission, service_name: str, parameters: dict[str, Any], body: dict[str, Any]
) -> Response:
    return submission.accepted(
        service_name, await submission.submit(service_name, parameters, body)
    )


def creation(body: dict[str, Any]) -> tuple[str, dict[str, Any], str]:
    """A create body's service name, parameters and description, or raise InvalidRequest: the
    name and description may come in ``serviceParameters`` (PSM's way) or beside it."""
    parameters = _service_parameters(body)
    name = parameters.pop("serviceName", body.get("serviceName"))
    description = parameters.pop("serviceDescription", body.get("serviceDescription", ""))
    _check_service_name(name)
    if not isinstance(description, str):
        raise errors.InvalidRequest(
            issues=["serviceParameters.serviceDescription: expected a string"]
        )
    return str(name), parameters, description


def _service_parameters(body: dict[str, Any]) -> dict[str, Any]:
    parameters = body.get("serviceParameters", {})
    if not isinstance(parameters, dict):
        raise errors.InvalidRequest(issues=["serviceParameters: expected an object"])
    return dict(parameters)


def _check_service_name(name: object) -> None:
    # A missing name (or JSON null) is reported as such: "got None" reads as Python, not JSON.
    if name is None:
        raise errors.InvalidRequest(
            "The service name is required.", ["serviceParameters.serviceName: is required"]
        )
    if not isinstance(name, str) or not SERVICE_NAME.fullmatch(name):
        raise errors.InvalidRequest(
            "The service name is not valid.",
            [
                f"serviceParameters.serviceName: expected a letter followed by up to 49 letters, "
                f"digits or hyphens, got {name!r}"
            ],
        )


routes = [
    route(paths.INSTANCES, {"GET": list_instances, "POST": create_instance}),
    route(
        paths.INSTANCE, {"GET": view_instance, "PUT": delete_instance, "DELETE": delete_instance}
    ),
    Route(paths.HOSTS_START, start_hosts, methods=["POST"]),
    Route(paths.HOSTS_STOP, stop_hosts, methods=["POST"]),
    Route(paths.HOSTS_RESTART, restart_hosts, methods=["POST"]),
    Route(paths.SCALE, scale_instance, methods=["POST"]),
    Route(paths.HOSTS_SCALE, scale_hosts, methods=["POST"]),
    route(paths.SERVERS, {"POST": scale_out, "PUT": scale_in}),
]
