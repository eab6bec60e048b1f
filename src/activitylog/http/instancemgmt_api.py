"""The write side: PSM's instancemgmt operations, each answered 202 with a job."""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitylog import errors
from activitylog.domain.instances import OperationType
from activitylog.http.auth import Principal
from activitylog.http.bodies import (
    InstanceList,
    SubmittedBody,
    SubmittedDetails,
    encode,
    instance_body,
)
from activitylog.http.context import AppContext, authenticate, read_json_object
from activitylog.store.records import OperationRequest

PREFIX = "/paas/api/v1.1/instancemgmt/{domain}/services/{service_type}/instances"
_JSON = "application/json"
# PSM's naming rule: a letter first, then letters, digits or hyphens; 50 characters at most.
# It also keeps commas out of the 202 message, which scripts split on.
_SERVICE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,49}")
_VERBS = {
    OperationType.CREATE_SERVICE: "create",
    OperationType.DELETE_SERVICE: "delete",
    OperationType.START_SERVICE: "start",
    OperationType.STOP_SERVICE: "stop",
    OperationType.RESTART_SERVICE: "restart",
    OperationType.SCALE_SERVICE: "scale",
}


async def create_instance(request: Request) -> Response:
    context, principal = await authenticate(request, "operator")
    body = await read_json_object(request, context.settings.max_body_bytes)
    parameters = _service_parameters(body)
    name = parameters.pop("serviceName", body.get("serviceName"))
    description = parameters.pop("serviceDescription", body.get("serviceDescription", ""))
    _check_service_name(name)
    if not isinstance(description, str):
        raise errors.InvalidRequest(
            issues=["serviceParameters.serviceDescription: expected a string"]
        )
    return await _submit(
        request,
        context,
        principal,
        str(name),
        OperationType.CREATE_SERVICE,
        parameters,
        description,
    )


async def delete_instance(request: Request) -> Response:
    context, principal = await authenticate(request, "operator")
    # Oracle's cache API deletes with `PUT {}`; DELETE may carry no body at all.
    await read_json_object(request, context.settings.max_body_bytes, allow_empty=True)
    return await _submit(
        request, context, principal, request.path_params["name"], OperationType.DELETE_SERVICE, {}
    )


async def start_hosts(request: Request) -> Response:
    return await _host_operation(request, OperationType.START_SERVICE)


async def stop_hosts(request: Request) -> Response:
    return await _host_operation(request, OperationType.STOP_SERVICE)


async def restart_hosts(request: Request) -> Response:
    return await _host_operation(request, OperationType.RESTART_SERVICE)


async def scale_instance(request: Request) -> Response:
    context, principal = await authenticate(request, "operator")
    body = await read_json_object(request, context.settings.max_body_bytes)
    return await _submit(
        request,
        context,
        principal,
        request.path_params["name"],
        OperationType.SCALE_SERVICE,
        _service_parameters(body),
    )


async def view_instance(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    service_type = context.registry.get(request.path_params["service_type"]).name
    name = request.path_params["name"]
    instance = await context.store.get_instance(principal.domain_id, service_type, name)
    if instance is None:
        raise errors.InstanceNotFound(
            f"No {service_type} service [{name}] in identity domain [{principal.domain_name}]."
        )
    return Response(encode(instance_body(instance)), media_type=_JSON)


async def list_instances(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    service_type = context.registry.get(request.path_params["service_type"]).name
    found = await context.store.list_instances(principal.domain_id, service_type)
    return Response(encode(InstanceList([instance_body(i) for i in found])), media_type=_JSON)


async def _host_operation(request: Request, operation: OperationType) -> Response:
    context, principal = await authenticate(request, "operator")
    body = await read_json_object(request, context.settings.max_body_bytes, allow_empty=True)
    return await _submit(request, context, principal, request.path_params["name"], operation, body)


async def _submit(
    request: Request,
    context: AppContext,
    principal: Principal,
    service_name: str,
    operation: OperationType,
    parameters: dict[str, Any],
    description: str = "",
) -> Response:
    service_type = context.registry.get(request.path_params["service_type"])
    service_type.handler_for(operation)
    cleaned = service_type.validate_parameters(operation, parameters)
    submitted = await context.store.submit_operation(
        OperationRequest(
            domain_id=principal.domain_id,
            identity_domain=principal.domain_name,
            service_type=service_type.name,
            service_name=service_name,
            operation_type=operation,
            parameters=cleaned,
            auth_domain=principal.domain_name,
            auth_user=principal.user_name,
            description=description,
        )
    )
    domain = principal.domain_name
    message = f"Submitted job to {_VERBS[operation]} service [{service_name}] in domain [{domain}]."
    base = context.settings.public_url or str(request.base_url).rstrip("/")
    location = f"{base}/paas/api/v1.1/activitylog/{domain}/job/{submitted.job_id}"
    body = encode(SubmittedBody(SubmittedDetails(message, str(submitted.job_id))))
    return Response(body, 202, headers={"Location": location}, media_type=_JSON)


def _service_parameters(body: dict[str, Any]) -> dict[str, Any]:
    parameters = body.get("serviceParameters", {})
    if not isinstance(parameters, dict):
        raise errors.InvalidRequest(issues=["serviceParameters: expected an object"])
    return dict(parameters)


def _check_service_name(name: object) -> None:
    if not isinstance(name, str) or not _SERVICE_NAME.fullmatch(name):
        raise errors.InvalidRequest(
            "The service name is not valid.",
            [
                f"serviceParameters.serviceName: expected a letter followed by up to 49 letters, "
                f"digits or hyphens, got {name!r}"
            ],
        )


routes = [
    Route(PREFIX, create_instance, methods=["POST"]),
    Route(PREFIX, list_instances, methods=["GET"]),
    Route(f"{PREFIX}/{{name}}", view_instance, methods=["GET"]),
    Route(f"{PREFIX}/{{name}}", delete_instance, methods=["PUT", "DELETE"]),
    Route(f"{PREFIX}/{{name}}/hosts/start", start_hosts, methods=["POST"]),
    Route(f"{PREFIX}/{{name}}/hosts/stop", stop_hosts, methods=["POST"]),
    Route(f"{PREFIX}/{{name}}/hosts/restart", restart_hosts, methods=["POST"]),
    Route(f"{PREFIX}/{{name}}/scale", scale_instance, methods=["POST"]),
]
