"""The JSON bodies on the wire, as msgspec structs whose field order is the wire order.

Naive clients scrape these bodies as text (see the spec, section 4), so the key order,
compactness and the absence of ``endDate`` on running jobs are part of the contract.
"""

from __future__ import annotations

from typing import Any

import msgspec

from activitylog.domain.dates import format_timestamp
from activitylog.domain.instances import (
    InstanceState,
    WireState,
    oracle_status,
    state_display_name,
    wire_state,
)
from activitylog.domain.jobs import WarnReporting
from activitylog.store.records import ApiToken, AuditEvent, Instance, JobView


class ActivityMessage(msgspec.Struct):
    activityDate: str
    message: str


class JobBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    activityLogId: int
    serviceName: str
    serviceType: str
    identityDomain: str
    serviceId: int
    jobId: int
    startDate: str
    endDate: str | None = None
    status: str
    operationId: int
    operationType: str
    summaryMessage: str
    authDomain: str
    authUser: str
    initiatedBy: str
    messages: list[ActivityMessage]
    percentComplete: int | None = None


class ActivityLogPage(msgspec.Struct):
    activityLogs: list[JobBody]
    totalCount: int


class SubmittedDetails(msgspec.Struct):
    message: str
    jobId: str


class SubmittedBody(msgspec.Struct):
    details: SubmittedDetails


class ErrorDetails(msgspec.Struct, omit_defaults=True):
    message: str
    issues: list[str] | None = None


class ErrorBody(msgspec.Struct):
    status: str
    details: ErrorDetails


class InstanceBody(msgspec.Struct):
    """A service instance. ``state`` is PSM's word, which its clients poll; ``domainName``,
    ``serviceDescription`` and ``serviceStateDisplayName`` are the names PSM's instance views
    (and the Go client's models) give what the older fields say."""

    serviceId: int
    serviceName: str
    serviceType: str
    identityDomain: str
    description: str
    status: str
    state: WireState
    creator: str
    creationDate: str
    lastModifiedDate: str
    serviceParameters: dict[str, Any]
    domainName: str
    serviceDescription: str
    serviceStateDisplayName: str


class InstanceList(msgspec.Struct):
    services: list[InstanceBody]


class UserBody(msgspec.Struct):
    name: str
    role: str


class UserList(msgspec.Struct):
    users: list[UserBody]


class TokenBody(msgspec.Struct, kw_only=True, omit_defaults=True):
    """A personal API token, never with its secret; ``lastUsedAt`` to the minute or so."""

    id: int
    name: str
    user: str
    role: str
    createdBy: str
    createdAt: str
    expiresAt: str
    lastUsedAt: str | None = None


class NewTokenBody(TokenBody, kw_only=True):
    """A token just created, with its secret: shown this once, never stored."""

    token: str


class TokenList(msgspec.Struct):
    tokens: list[TokenBody]


class AuditEventBody(msgspec.Struct):
    """One audit event; a counted one (failed sign-ins) stands for ``count`` events between
    ``occurredAt`` and ``lastOccurredAt``."""

    id: int
    kind: str
    actor: str
    address: str
    subject: str
    details: dict[str, Any]
    occurredAt: str
    lastOccurredAt: str
    count: int


class AuditPage(msgspec.Struct):
    events: list[AuditEventBody]
    totalCount: int


_encoder = msgspec.json.Encoder()
encode = _encoder.encode


def job_body(view: JobView, warn: WarnReporting) -> JobBody:
    """The job as the wire shows it; ``warn`` says whether its WARN reads SUCCEED."""
    return JobBody(
        activityLogId=view.activity_log_id,
        serviceName=view.service_name,
        serviceType=view.service_type,
        identityDomain=view.identity_domain,
        serviceId=view.service_id,
        jobId=view.job_id,
        startDate=format_timestamp(view.start_date),
        endDate=None if view.end_date is None else format_timestamp(view.end_date),
        status=warn.status(view.service_type, view.status),
        # PSM sets both of these to the same values in every example it publishes.
        operationId=view.service_id,
        operationType=view.operation_type,
        summaryMessage=view.operation_type,
        authDomain=view.auth_domain,
        authUser=view.auth_user,
        initiatedBy=view.initiated_by,
        messages=[
            ActivityMessage(format_timestamp(m.activity_date), m.text) for m in view.messages
        ],
        percentComplete=view.percent_complete,
    )


def instance_body(instance: Instance) -> InstanceBody:
    state = InstanceState(instance.state)
    return InstanceBody(
        serviceId=instance.service_id,
        serviceName=instance.name,
        serviceType=instance.service_type,
        identityDomain=instance.identity_domain,
        description=instance.description,
        status=oracle_status(state),
        state=wire_state(state),
        creator=instance.created_by,
        creationDate=format_timestamp(instance.created_at),
        lastModifiedDate=format_timestamp(instance.updated_at),
        serviceParameters=instance.parameters,
        domainName=instance.identity_domain,
        serviceDescription=instance.description,
        serviceStateDisplayName=state_display_name(state),
    )


def token_fields(token: ApiToken) -> dict[str, Any]:
    """A token's body fields, for TokenBody or NewTokenBody."""
    last_used = token.last_used_at
    return {
        "id": token.token_id,
        "name": token.name,
        "user": token.user_name,
        "role": token.role,
        "createdBy": token.created_by,
        "createdAt": format_timestamp(token.created_at),
        "expiresAt": format_timestamp(token.expires_at),
        "lastUsedAt": None if last_used is None else format_timestamp(last_used),
    }


def audit_event_body(event: AuditEvent) -> AuditEventBody:
    return AuditEventBody(
        id=event.event_id,
        kind=event.kind,
        actor=event.actor,
        address=event.address,
        subject=event.subject,
        details=event.details,
        occurredAt=format_timestamp(event.occurred_at),
        lastOccurredAt=format_timestamp(event.last_occurred_at),
        count=event.occurrences,
    )


def error_body(status_code: int, message: str, issues: list[str] | None = None) -> bytes:
    return encode(ErrorBody(str(status_code), ErrorDetails(message, issues or None)))
