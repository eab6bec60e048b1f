"""The OpenAPI 3.1 document at /openapi.json: every route, with the 4xx answers it can give."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from activitylog.client import paths
from activitylog.domain import audit
from activitylog.domain.instances import SCALE_IN, SCALE_OUT, OperationType
from activitylog.domain.names import USER_NAME
from activitylog.domain.search import MAX_BIGINT, MAX_LIMIT, ORDERABLE_FIELDS
from activitylog.http import bodies
from activitylog.http.auth import ROLES
from activitylog.http.idempotency import KEY_PATTERN
from activitylog.http.instancemgmt_api import SERVICE_NAME
from activitylog.http.middleware import CORS_METHODS
from activitylog.http.openapi_events import DOMAIN_STREAM_EVENT, JOB_STREAM_EVENT, event_stream
from activitylog.http.psm_job_views import JCS_REQUEST_NAMES, LifecycleStatusBody
from activitylog.http.service_types import OfferedServiceType
from activitylog.http.tokens_api import TOKEN_NAME

_REF = "#/components/schemas/{name}"
_ERROR_TEXT = {
    400: "The request is not valid; `details.issues` lists each problem.",
    401: "Missing or wrong credentials, or X-ID-TENANT-NAME names another domain.",
    403: "The user's role does not allow this request.",
    404: "No such job, record, instance, service type or route in this domain.",
    409: "Another operation is in flight, the instance's state forbids this one, or the job "
    "has already ended.",
    413: "The body is too large.",
    415: "The body is not JSON.",
    422: "The Idempotency-Key was used, within 24 hours, for a different request.",
    429: "Too many failed authentications from this address or for this user name, or (streams "
    "and long-polls) as many held open by the user or the address as allowed; retry after "
    "Retry-After seconds.",
    503: "The database is unavailable; retry after Retry-After seconds.",
}
# Every authenticated route may answer 429: the failed-authentication limits come first.
_READ_ERRORS = (400, 401, 403, 404, 429, 503)
_WRITE_ERRORS = (400, 401, 403, 404, 409, 413, 415, 429, 503)
_SUBMIT_ERRORS = (400, 401, 403, 404, 409, 413, 415, 422, 429, 503)
_CANCEL_ERRORS = (400, 401, 403, 404, 409, 429, 503)
_HELD_OPEN_ERRORS = _READ_ERRORS
"""Streams and long-polls, which count against the caps on requests held open too."""


def openapi_document(
    service_types: Sequence[OfferedServiceType], *, token_max_days: int = 366
) -> bytes:
    _, components = msgspec.json.schema_components(
        [
            bodies.JobBody,
            bodies.ActivityLogPage,
            bodies.SubmittedBody,
            bodies.ErrorBody,
            bodies.InstanceBody,
            bodies.InstanceList,
            bodies.UserBody,
            bodies.UserList,
            bodies.TokenBody,
            bodies.NewTokenBody,
            bodies.TokenList,
            bodies.AuditEventBody,
            bodies.AuditPage,
            LifecycleStatusBody,
        ],
        ref_template=_REF,
    )
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "activitylog",
            "version": "1.1",
            "description": "Oracle PSM-compatible activity log and service-instance operations. "
            "A query parameter an operation does not list is refused: 400, naming it in "
            f"`details.issues` (docs/compatibility.md, Query parameters). CORS methods: "
            f"{CORS_METHODS}.",
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "basicAuth": {"type": "http", "scheme": "basic"},
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API token, or a JWT from the configured OIDC "
                    "issuer.",
                },
            },
        },
        "security": [{"basicAuth": []}, {"bearerAuth": []}],
        "paths": {
            **_activitylog_paths(),
            **_cancel_paths(),
            **_user_paths(),
            **_token_paths(token_max_days),
            **_audit_paths(),
            **_instancemgmt_paths(service_types),
            **_jcs_paths(),
            **_service_paths(),
        },
    }
    return msgspec.json.encode(document)


def _json(name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(name=name)}}},
    }


def _answers(success: dict[int, dict[str, Any]], error_codes: tuple[int, ...]) -> dict[str, Any]:
    answers = {str(code): answer for code, answer in success.items()}
    for code in error_codes:
        answers[str(code)] = _json("ErrorBody", _ERROR_TEXT[code])
    return answers


def _path_parameter(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


_DOMAIN = _path_parameter(
    "domain",
    {"type": "string", "minLength": 1},
    "The identity domain, e.g. `ExampleIdentityDomain`.",
)
_TENANT = {
    "name": "X-ID-TENANT-NAME",
    "in": "header",
    "required": False,
    "schema": {"type": "string"},
    "description": "The identity domain again; when present it must equal `domain`.",
}
_ID = {"type": "integer", "minimum": 0, "maximum": MAX_BIGINT}
# What create accepts, hence the only names an instance can have.
_SERVICE_NAME = f"^{SERVICE_NAME.pattern}$"
# The filter's date formats, years 0001 to 9999 (year 0000 is no date: Python's calendar, and
# ours, begin at 0001), only days the month has (February 29 in leap years); empty is no bound.
_YEAR = "([0-9]{3}[1-9]|[0-9]{2}[1-9]0|[0-9][1-9]00|[1-9]000)"
_LEAP_YEAR = "([0-9]{2}(0[48]|[2468][048]|[13579][26])|(0[48]|[2468][048]|[13579][26])00)"
_MONTH_DAY = "((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])|(0[13-9]|1[0-2])-(29|30)|(0[13578]|1[02])-31)"
_FILTER_DATE = (
    rf"^(({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
    r"(Z|[+ -]([01][0-9]|2[0-3]):?[0-5][0-9])?)?)?$"
)
_ORDER_TERM = f"({'|'.join(ORDERABLE_FIELDS)})(:(asc|desc))?"


def _activitylog_paths() -> dict[str, Any]:
    job = _json("JobBody", "The job, with its activity messages in order.")
    filter_parameters = [
        _query("serviceName", {"type": "string"}),
        _query("serviceType", {"type": "string"}),
        _query(
            "status",
            {
                "type": "array",
                "items": {
                    "type": "string",
                    "enum": ["NEW", "RUNNING", "SUCCEED", "FAILED", "WARN"],
                },
            },
        ),
        _query("operationType", {"type": "array", "items": {"type": "string"}}),
        _query(
            "fromStartDate",
            {"type": "string", "pattern": _FILTER_DATE},
            "yyyy-MM-dd, yyyy-MM-dd'T'HH:mm:ss.SSSZ, "
            "yyyy-MM-dd HH:mm:ss or yyyy-MM-dd'T'HH:mm:ss (UTC when no zone). The earliest "
            "date is 0001-01-01, the latest 9999-12-31; empty: no bound.",
        ),
        _query(
            "toStartDate",
            {"type": "string", "pattern": _FILTER_DATE},
            "As fromStartDate; a bare date covers that day.",
        ),
        _query(
            "orderBy",
            {"type": "string", "pattern": f"^({_ORDER_TERM}(,{_ORDER_TERM})*)?$"},
            "`field:asc` or `field:desc` (asc when left out), comma-separated; empty: the "
            "default order.",
        ),
        _query(
            "limit",
            {"type": "integer", "minimum": 0, "maximum": MAX_BIGINT},
            f"Page size; more than {MAX_LIMIT} gives {MAX_LIMIT}.",
        ),
        _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_BIGINT}),
    ]
    return {
        paths.JOB: {
            "get": {
                "summary": "View job status",
                "operationId": "getJob",
                "parameters": [_DOMAIN, _JOB_ID, _TENANT, *_job_status_extensions()],
                "responses": _answers(
                    {
                        200: {**job, "headers": _JOB_HEADERS},
                        304: {
                            "description": "Unchanged since If-None-Match.",
                            "headers": _JOB_HEADERS,
                        },
                    },
                    _HELD_OPEN_ERRORS,
                ),
            }
        },
        paths.JOB_EVENTS: {
            "get": {
                "summary": "Stream the job's activity (server-sent events; our extension)",
                "description": "`message` events (id: the message's position), `status` and "
                "`progress` events, and a last `end` event. Send `Last-Event-ID` to resume.",
                "operationId": "streamJobEvents",
                "parameters": [
                    _DOMAIN,
                    _JOB_ID,
                    _TENANT,
                    _header(
                        "Last-Event-ID",
                        {"type": "string"},
                        "The id of the last event received: the stream resumes after that "
                        "message; anything but a whole number starts from the first.",
                    ),
                ],
                "responses": _answers({200: _JOB_EVENTS}, _HELD_OPEN_ERRORS),
            }
        },
        paths.DOMAIN_EVENTS: {
            "get": {
                "summary": "Stream the domain's activity (server-sent events; our extension)",
                "description": "A `job` event for every change to a job matching the filter's "
                "parameters.",
                "operationId": "streamDomainEvents",
                "parameters": [_DOMAIN, _TENANT, *filter_parameters],
                "responses": _answers({200: _DOMAIN_EVENTS}, _HELD_OPEN_ERRORS),
            }
        },
        paths.MESSAGE: {
            "get": {
                "summary": "View an activity-log record by its activityLogId",
                "operationId": "getActivityLogRecord",
                "parameters": [
                    _DOMAIN,
                    _path_parameter("logId", _ID, "The activityLogId."),
                    _TENANT,
                ],
                "responses": _answers({200: job}, _READ_ERRORS),
            }
        },
        paths.FILTER: {
            "get": {
                "summary": "Search the domain's activity",
                "operationId": "filterActivities",
                "parameters": [_DOMAIN, _TENANT, *filter_parameters],
                "responses": _answers(
                    {200: _json("ActivityLogPage", "One page of matches, and the total count.")},
                    _READ_ERRORS,
                ),
            }
        },
        paths.STACK: {
            "get": {
                "summary": "View a Cloud Stack's activity log",
                "description": "The jobs of service type `cloudstack` and this service name; "
                "the filter's other parameters narrow and page them.",
                "operationId": "getStackActivityLog",
                "parameters": [
                    _DOMAIN,
                    _path_parameter("stackName", {"type": "string"}, "The stack's name."),
                    _TENANT,
                    *filter_parameters[2:],
                ],
                "responses": _answers(
                    {200: _json("ActivityLogPage", "One page of the stack's jobs.")},
                    _READ_ERRORS,
                ),
            }
        },
        paths.STACK_JOB: {
            "get": {
                "summary": "View the status of a Cloud Stack job",
                "operationId": "getStackJob",
                "parameters": [_DOMAIN, _JOB_ID, _TENANT],
                "responses": _answers({200: job}, _READ_ERRORS),
            }
        },
    }


def _jcs_paths() -> dict[str, Any]:
    body = _json("LifecycleStatusBody", "The instance, and the job's status and messages.")
    request_name = _path_parameter(
        "requestName", {"type": "string", "enum": list(JCS_REQUEST_NAMES)}, "The kind of request."
    )
    return {
        paths.JCS_LIFECYCLE_STATUS: {
            "get": {
                "summary": "View the status of a lifecycle operation (Java Cloud Service)",
                "operationId": "getLifecycleStatus",
                "parameters": [_DOMAIN, request_name, _JOB_ID, _TENANT],
                "responses": _answers(
                    {200: {**body, "description": "The job has ended."}, 202: body},
                    _READ_ERRORS,
                ),
            }
        }
    }


_JOB_ID = _path_parameter("jobId", _ID, "The job id.")
_JOB_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "The job's version."},
    "Retry-After": {
        "schema": {"type": "string"},
        "description": "While the job has not ended: seconds before asking again.",
    },
}
_JOB_EVENTS = event_stream(
    JOB_STREAM_EVENT, "Comments (`: keep-alive`) while the job is idle; no events."
)
_DOMAIN_EVENTS = event_stream(
    DOMAIN_STREAM_EVENT, "A comment (`: watching`) first, then `: keep-alive` while idle."
)


def _header(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": "header", "required": False, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def _job_status_extensions() -> list[dict[str, Any]]:
    return [
        _query(
            "wait",
            {"type": "integer", "minimum": 0, "maximum": 60},
            "Our extension: hold the answer up to this many seconds until the job differs "
            "from the version in If-None-Match (or from now).",
        ),
        _query(
            "sinceMessage",
            {"type": "integer", "minimum": 0, "maximum": MAX_BIGINT},
            "Our extension: return only the messages after the first K.",
        ),
        _header("If-None-Match", {"type": "string"}, "An ETag from an earlier answer."),
    ]


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    parameter: dict[str, Any] = {"name": name, "in": "query", "required": False, "schema": schema}
    if schema.get("type") == "array":
        parameter.update(style="form", explode=True)
    if description:
        parameter["description"] = description
    return parameter


def _cancel_paths() -> dict[str, Any]:
    job = "The job, with its activity messages in order"
    return {
        paths.JOB_CANCEL: {
            "post": {
                "summary": "Cancel a job (operator; our extension)",
                "description": "A NEW job ends FAILED at once (200). A RUNNING job's worker is "
                "asked to stop it (202); it then ends FAILED, saying who cancelled it. A job "
                "that has ended already: 409.",
                "operationId": "cancelJob",
                "parameters": [_DOMAIN, _JOB_ID, _TENANT],
                "responses": _answers(
                    {
                        200: _json("JobBody", f"{job}: it ended, FAILED."),
                        202: _json("JobBody", f"{job}: its worker will stop it."),
                    },
                    _CANCEL_ERRORS,
                ),
            }
        }
    }


def _user_paths() -> dict[str, Any]:
    name = _path_parameter(
        "name", {"type": "string", "pattern": f"^{USER_NAME.pattern}$"}, "The user's name."
    )
    user_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        # null is as good as leaving the key out.
                        "password": {"type": ["string", "null"], "minLength": 8},
                        "role": {"enum": ["viewer", "operator", "admin", None]},
                    },
                }
            }
        },
    }
    new_user_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "pattern": f"^{USER_NAME.pattern}$"},
                        "password": {"type": "string", "minLength": 8},
                        "role": {"type": "string", "enum": ["viewer", "operator", "admin"]},
                    },
                    "required": ["name", "password"],
                }
            }
        },
    }
    user = _json("UserBody", "The user.")
    return {
        paths.USERS: {
            "get": {
                "summary": "List users (admin)",
                "operationId": "listUsers",
                "parameters": [_DOMAIN, _TENANT],
                "responses": _answers(
                    {200: _json("UserList", "The domain's users.")}, _READ_ERRORS
                ),
            },
            "post": {
                "summary": "Create a user; 409 if it exists (admin)",
                "operationId": "createUser",
                "parameters": [_DOMAIN, _TENANT],
                "requestBody": new_user_body,
                "responses": _answers({201: user}, _WRITE_ERRORS),
            },
        },
        paths.USER: {
            "put": {
                "summary": "Create a user, or change its password or role (admin)",
                "description": "Without a password, only an existing user can be changed: "
                "404 when there is none.",
                "operationId": "putUser",
                "parameters": [_DOMAIN, name, _TENANT],
                "requestBody": user_body,
                "responses": _answers({200: user, 201: user}, _WRITE_ERRORS),
            },
            "delete": {
                "summary": "Delete a user (admin)",
                "operationId": "deleteUser",
                "parameters": [_DOMAIN, name, _TENANT],
                "responses": _answers({204: {"description": "Deleted."}}, _READ_ERRORS),
            },
        },
    }


def _token_paths(token_max_days: int) -> dict[str, Any]:
    new_token = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string", "pattern": f"^{TOKEN_NAME.pattern}$"},
                        "role": {"type": "string", "enum": list(ROLES)},
                        "expiresInDays": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": token_max_days,
                        },
                        "user": {"type": "string", "pattern": f"^{USER_NAME.pattern}$"},
                    },
                    "required": ["name"],
                }
            }
        },
    }
    token_id = _path_parameter("tokenId", _ID, "The API token's id.")
    return {
        paths.TOKENS: {
            "get": {
                "summary": "List API tokens: your own, or (admin) the domain's",
                "operationId": "listTokens",
                "parameters": [
                    _DOMAIN,
                    _TENANT,
                    _query("user", {"type": "string"}, "Admin: only this user's tokens."),
                ],
                "responses": _answers(
                    {200: _json("TokenList", "The tokens, without their secrets.")}, _READ_ERRORS
                ),
            },
            "post": {
                "summary": "Create an API token (password sign-in only; our extension)",
                "description": "For you, or (admin) for `user`; its role at most that user's "
                "(by default the user's role). The secret is in this answer only.",
                "operationId": "createToken",
                "parameters": [_DOMAIN, _TENANT],
                "requestBody": new_token,
                "responses": _answers(
                    {201: _json("NewTokenBody", "The token, with its secret.")}, _WRITE_ERRORS
                ),
            },
        },
        paths.TOKEN: {
            "delete": {
                "summary": "Revoke an API token: your own, or (admin) any of the domain's",
                "operationId": "revokeToken",
                "parameters": [_DOMAIN, token_id, _TENANT],
                "responses": _answers({204: {"description": "Revoked."}}, _READ_ERRORS),
            }
        },
    }


def _audit_paths() -> dict[str, Any]:
    date = {"type": "string", "pattern": _FILTER_DATE}
    return {
        paths.AUDIT: {
            "get": {
                "summary": "Read the domain's audit trail (admin; our extension)",
                "description": "Newest first. Failed sign-ins are counted: one event per "
                "(user name, address, hour), with `count`.",
                "operationId": "listAuditEvents",
                "parameters": [
                    _DOMAIN,
                    _TENANT,
                    _query("kind", {"type": "string", "enum": list(audit.KINDS)}),
                    _query("from", date, "Events at or after; the filter's date formats."),
                    _query("to", date, "Events at or before; a bare date covers that day."),
                    _query("limit", {"type": "integer", "minimum": 0, "maximum": MAX_BIGINT}),
                    _query("offset", {"type": "integer", "minimum": 0, "maximum": MAX_BIGINT}),
                ],
                "responses": _answers(
                    {200: _json("AuditPage", "One page of events, and the total count.")},
                    _READ_ERRORS,
                ),
            }
        }
    }


def _instancemgmt_paths(service_types: Sequence[OfferedServiceType]) -> dict[str, Any]:
    """Each configured service type's paths, its name written in (not a `{serviceType}`
    parameter): the bodies a create or scale takes differ by service type, and a schema
    cannot tie a body to a path parameter's value. Only the operations it offers."""
    described: dict[str, Any] = {}
    for service_type in service_types:
        for template, operations in _service_type_paths(service_type).items():
            path = template.replace("{serviceType}", service_type.name)
            if operations:
                described[path] = operations
    return described


def _service_type_paths(service_type: OfferedServiceType) -> dict[str, dict[str, Any]]:
    kind = service_type.name
    name = _path_parameter(
        "name", {"type": "string", "pattern": _SERVICE_NAME}, "The service instance's name."
    )
    accepted = {
        202: {
            **_json("SubmittedBody", "Accepted: poll the job at Location."),
            "headers": {
                "Location": {"schema": {"type": "string"}, "description": "The job-status URL."}
            },
        }
    }
    common = [_DOMAIN, _TENANT]
    idempotency_key = _header(
        "Idempotency-Key",
        {"type": "string", "pattern": f"^{KEY_PATTERN.pattern}$"},
        "Our extension: a repeat with the same key within 24 hours gets the same 202 and job; "
        "the same key with a different request gets 422.",
    )

    def offered(
        operation: str, summary: str, operation_id: str, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        if not service_type.offers(operation):
            return {}
        on_instance = operation != OperationType.CREATE_SERVICE
        described: dict[str, Any] = {
            "summary": f"{summary} ({kind})",
            "operationId": f"{operation_id}_{kind}",
            "parameters": [*common, *([name] if on_instance else []), idempotency_key],
            "responses": _answers(accepted, _SUBMIT_ERRORS),
        }
        if body is not None:
            described["requestBody"] = body
        return described

    def method(verb: str, operation: dict[str, Any]) -> dict[str, Any]:
        return {verb: operation} if operation else {}

    delete = "Delete a service instance"
    return {
        paths.INSTANCES: {
            "get": {
                "summary": f"List service instances ({kind})",
                "operationId": f"listInstances_{kind}",
                "parameters": common,
                "responses": _answers(
                    {200: _json("InstanceList", "The live instances.")}, _READ_ERRORS
                ),
            },
            **method(
                "post",
                offered(
                    OperationType.CREATE_SERVICE,
                    "Create a service instance",
                    "createInstance",
                    _parameters_body(service_type, OperationType.CREATE_SERVICE),
                ),
            ),
        },
        paths.INSTANCE: {
            "get": {
                "summary": f"View a service instance ({kind})",
                "operationId": f"viewInstance_{kind}",
                "parameters": [*common, name],
                "responses": _answers({200: _json("InstanceBody", "The instance.")}, _READ_ERRORS),
            },
            **method(
                "put",
                offered(
                    OperationType.DELETE_SERVICE,
                    f"{delete} (PSM's `PUT {{}}`)",
                    "deleteInstancePut",
                    _free_body(),
                ),
            ),
            **method(
                "delete",
                offered(OperationType.DELETE_SERVICE, delete, "deleteInstance", None),
            ),
        },
        paths.HOSTS_START: method(
            "post", offered(OperationType.START_SERVICE, "Start", "startInstance", _free_body())
        ),
        paths.HOSTS_STOP: method(
            "post", offered(OperationType.STOP_SERVICE, "Stop", "stopInstance", _free_body())
        ),
        paths.HOSTS_RESTART: method(
            "post",
            offered(OperationType.RESTART_SERVICE, "Restart", "restartInstance", _free_body()),
        ),
        paths.SCALE: method(
            "post",
            offered(
                OperationType.SCALE_SERVICE,
                "Scale",
                "scaleInstance",
                _parameters_body(service_type, OperationType.SCALE_SERVICE),
            ),
        ),
        paths.HOSTS_SCALE: method(
            "post",
            offered(
                OperationType.SCALE_SERVICE,
                "Scale up or down (JCS, MySQLCS)",
                "scaleHosts",
                _scale_body(service_type),
            ),
        ),
        paths.SERVERS: {
            **method(
                "post",
                offered(
                    SCALE_OUT,
                    "Scale out (JCS; SCALE_OUT)",
                    "scaleOut",
                    _components_body(),
                ),
            ),
            **method(
                "put",
                offered(SCALE_IN, "Scale in (JCS; SCALE_IN)", "scaleIn", _components_body()),
            ),
        },
    }


_SHAPE = {"type": "string", "minLength": 1, "pattern": r"\S", "examples": ["VM.Standard2.2"]}


def _components(*, shape_required: bool) -> dict[str, Any]:
    component = {
        "type": "object",
        "properties": {
            "shape": _SHAPE,
            "hosts": {"type": "array", "items": {"type": "string", "minLength": 1}},
        },
        "required": ["shape"] if shape_required else [],
    }
    return {
        "type": "object",
        "minProperties": 1,
        "propertyNames": {"minLength": 1},
        "additionalProperties": component,
    }


def _scale_body(service_type: OfferedServiceType) -> dict[str, Any]:
    """JCS's ``components`` with a shape each, MySQLCS's ``shape``, or ``serviceParameters``
    (which wins when present). A service type whose scale requires declared parameters takes
    only ``serviceParameters``: the other two forms carry none of them."""
    declared = _parameters_body(service_type, OperationType.SCALE_SERVICE)
    schema = declared["content"]["application/json"]["schema"]
    if schema.get("required"):
        return declared
    return _content(
        {
            "type": "object",
            "properties": {
                "components": _components(shape_required=True),
                "shape": _SHAPE,
                "serviceParameters": schema["properties"]["serviceParameters"],
            },
            "anyOf": [
                {"required": ["components"]},
                {"required": ["shape"]},
                {"required": ["serviceParameters"]},
            ],
        }
    )


def _components_body() -> dict[str, Any]:
    return _content(
        {
            "type": "object",
            "properties": {"components": _components(shape_required=False)},
            "required": ["components"],
        }
    )


def _parameters_body(service_type: OfferedServiceType, operation: OperationType) -> dict[str, Any]:
    """`{"serviceParameters":{...}}` with the parameters the service type declares; keys it
    does not declare are taken as they are."""
    properties: dict[str, Any] = {}
    required = []
    if operation == OperationType.CREATE_SERVICE:
        properties["serviceName"] = {"type": "string", "pattern": _SERVICE_NAME}
        properties["serviceDescription"] = {"type": "string"}
        required.append("serviceName")
    for parameter in service_type.parameters:
        properties[parameter.name] = parameter.json_schema()
        if operation in parameter.required_for:
            required.append(parameter.name)
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {"serviceParameters": parameters},
    }
    if required:
        parameters["required"] = required
        schema["required"] = ["serviceParameters"]
    return _content(schema)


def _free_body() -> dict[str, Any]:
    return {**_content({"type": "object"}), "required": False}


def _content(schema: dict[str, Any]) -> dict[str, Any]:
    media = {"schema": schema}
    return {
        "required": True,
        "content": {
            "application/json": media,
            "application/vnd.com.oracle.oracloud.provisioning.Service+json": media,
        },
    }


def _service_paths() -> dict[str, Any]:
    plain = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}
    return {
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "operationId": "openapi",
                "security": [],
                "responses": {"200": plain},
            }
        },
        "/health": {
            "get": {
                "summary": "Liveness",
                "operationId": "health",
                "security": [],
                "responses": {"200": plain},
            }
        },
        "/health/live": {
            "get": {
                "summary": "The process answers",
                "operationId": "healthLive",
                "security": [],
                "responses": {"200": _health_answer("Live")},
            }
        },
        "/health/ready": {
            "get": {
                "summary": "The store answers, migrations are current, the worker runs",
                "operationId": "healthReady",
                "security": [],
                "responses": {
                    "200": _health_answer("Ready"),
                    "503": _health_answer("Not ready: the checks say what is wrong"),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "operationId": "metrics",
                "security": [],
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
    }


def _health_answer(description: str) -> dict[str, Any]:
    checks = {"type": "object", "additionalProperties": {"type": "string"}}
    body = {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string"}, "checks": checks},
    }
    return {"description": description, "content": {"application/json": {"schema": body}}}
