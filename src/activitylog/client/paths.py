"""The activity-log API's URL paths: Oracle PSM's, and our extensions under the same prefix.

The paths are part of the wire contract, so they live with the client: the server's routes,
its OpenAPI document, its ``Location`` headers and its job-status fast path read the same
templates as this SDK. A template's ``{parameters}`` carry the names the OpenAPI document
gives them. Pure strings and functions: no I/O, and nothing imported beyond the standard
library.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import quote

__all__ = [
    "ACTIVITYLOG",
    "API_ROOT",
    "AUDIT",
    "DOMAIN_EVENTS",
    "FILTER",
    "HOSTS_RESTART",
    "HOSTS_SCALE",
    "HOSTS_START",
    "HOSTS_STOP",
    "INSTANCE",
    "INSTANCES",
    "JCS_LIFECYCLE_STATUS",
    "JOB",
    "JOB_CANCEL",
    "JOB_EVENTS",
    "MESSAGE",
    "SCALE",
    "SERVERS",
    "STACK",
    "STACK_JOB",
    "TOKEN",
    "TOKENS",
    "USER",
    "USERS",
    "HostOperation",
    "expand",
    "filter_path",
    "host_operation_path",
    "instance_path",
    "instances_path",
    "job_path",
    "literal_parts",
    "parameter_names",
    "scale_path",
    "template_pattern",
]

API_ROOT = "/paas/api/v1.1"

# PSM's activity log, and our extensions beside it (cancel, event streams, users, API tokens,
# the audit trail).
ACTIVITYLOG = f"{API_ROOT}/activitylog/{{domain}}"
JOB = f"{ACTIVITYLOG}/job/{{jobId}}"
JOB_CANCEL = f"{JOB}/cancel"
JOB_EVENTS = f"{JOB}/events"
MESSAGE = f"{ACTIVITYLOG}/message/{{logId}}"
FILTER = f"{ACTIVITYLOG}/filter"
DOMAIN_EVENTS = f"{ACTIVITYLOG}/events"
USERS = f"{ACTIVITYLOG}/users"
USER = f"{USERS}/{{name}}"
TOKENS = f"{ACTIVITYLOG}/tokens"
TOKEN = f"{TOKENS}/{{tokenId}}"
AUDIT = f"{ACTIVITYLOG}/audit"
# Oracle Cloud Stack's views of the same jobs: a stack's jobs, and one stack job.
STACK = f"{ACTIVITYLOG}/stack/{{stackName}}"
STACK_JOB = f"{ACTIVITYLOG}/stack/job/{{jobId}}"

# PSM's service-instance operations; each answers 202 with the job's URL in Location.
INSTANCES = f"{API_ROOT}/instancemgmt/{{domain}}/services/{{serviceType}}/instances"
INSTANCE = f"{INSTANCES}/{{name}}"
HOSTS_START = f"{INSTANCE}/hosts/start"
HOSTS_STOP = f"{INSTANCE}/hosts/stop"
HOSTS_RESTART = f"{INSTANCE}/hosts/restart"
SCALE = f"{INSTANCE}/scale"
# Java and MySQL Cloud Service clients scale up or down here (SCALE_SERVICE)...
HOSTS_SCALE = f"{INSTANCE}/hosts/scale"
# ...and JCS scales out (POST, SCALE_OUT) and in (PUT, SCALE_IN) here.
SERVERS = f"{INSTANCE}/servers"

# Java Cloud Service's own view of a lifecycle operation's job: 202 while it runs, 200 once
# it ended. ``requestName`` is create, delete, control or scale.
JCS_LIFECYCLE_STATUS = (
    "/paas/service/jcs/api/v1.1/instances/{domain}/status/{requestName}/job/{jobId}"
)

HostOperation = Literal["start", "stop", "restart"]
_HOST_OPERATIONS: dict[str, str] = {
    "start": HOSTS_START,
    "stop": HOSTS_STOP,
    "restart": HOSTS_RESTART,
}
_PARAMETER = re.compile(r"\{([^{}]+)\}")


def expand(template: str, **values: str | int) -> str:
    """The template with each ``{parameter}`` replaced by its value as one path segment:
    percent-encoded, so that a ``/`` or ``?`` in a name cannot reach another route."""
    return template.format_map({name: quote(str(value), safe="") for name, value in values.items()})


def job_path(domain: str, job_id: int) -> str:
    """The job-status path, as a 202's ``Location`` ends."""
    return expand(JOB, domain=domain, jobId=job_id)


def filter_path(domain: str) -> str:
    return expand(FILTER, domain=domain)


def instances_path(domain: str, service_type: str) -> str:
    return expand(INSTANCES, domain=domain, serviceType=service_type)


def instance_path(domain: str, service_type: str, name: str) -> str:
    return expand(INSTANCE, domain=domain, serviceType=service_type, name=name)


def host_operation_path(domain: str, service_type: str, name: str, operation: HostOperation) -> str:
    template = _HOST_OPERATIONS[operation]
    return expand(template, domain=domain, serviceType=service_type, name=name)


def scale_path(domain: str, service_type: str, name: str) -> str:
    return expand(SCALE, domain=domain, serviceType=service_type, name=name)


def parameter_names(template: str) -> list[str]:
    """The template's parameters in order: ``JOB`` gives ``["domain", "jobId"]``."""
    return _PARAMETER.findall(template)


def literal_parts(template: str) -> list[str]:
    """The text around the template's parameters, one more part than there are parameters:
    ``JOB`` gives ``["/paas/api/v1.1/activitylog/", "/job/", ""]``."""
    return _PARAMETER.split(template)[::2]


def template_pattern(template: str, **groups: str) -> str:
    """A regular expression for the template's paths: each parameter a named group matching
    the pattern given for it, the text around them matched literally."""
    literals = [re.escape(part) for part in literal_parts(template)]
    names = parameter_names(template)
    pattern = literals[0]
    for name, literal in zip(names, literals[1:], strict=True):
        pattern += f"(?P<{name}>{groups[name]}){literal}"
    return pattern
