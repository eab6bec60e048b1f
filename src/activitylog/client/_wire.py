"""The activity-log wire format: job URLs, timestamps and JSON bodies, decoded into models."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import msgspec

from activitylog.client import paths
from activitylog.client._errors import InvalidJobUrl, UnexpectedResponse
from activitylog.client._models import (
    ActivityMessage,
    ActivityPage,
    ApiToken,
    Instance,
    Job,
    Submission,
    User,
)

T = TypeVar("T")
# Whatever precedes the API root (a proxy's prefix, say) is part of the base URL.
_JOB_URL_PATH = re.compile(
    "^(?P<root>.*?)" + paths.template_pattern(paths.JOB, domain="[^/]+", jobId=r"\d+") + "/?$"
)


def split_job_url(url: str) -> tuple[str, str, int]:
    """(base URL, identity domain, job id) of a job URL such as a 202's ``Location``."""
    parts = urlsplit(url)
    match = _JOB_URL_PATH.match(parts.path)
    if not (parts.scheme in {"http", "https"} and parts.netloc and match):
        raise InvalidJobUrl(f"Not an activity-log job URL: {url!r}.")
    base = urlunsplit((parts.scheme, parts.netloc, match["root"], "", ""))
    return base, match["domain"], int(match["jobId"])


def format_timestamp(moment: dt.datetime) -> str:
    """PSM's ``yyyy-MM-dd'T'HH:mm:ss.SSS+0000``, in UTC; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    utc = moment.astimezone(dt.UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}+0000"


def parse_timestamp(text: str) -> dt.datetime:
    try:
        moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        moment = dt.datetime.fromisoformat(text)  # lenient: other ISO 8601 renderings
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class _WireMessage(msgspec.Struct):
    activityDate: str  # noqa: N815 - the wire's key
    message: str


class _WireJob(msgspec.Struct, kw_only=True, rename="camel"):
    activity_log_id: int
    service_name: str
    service_type: str
    job_id: int | str  # PSM clients accept a number or a numeric string
    start_date: str
    status: str
    operation_type: str
    end_date: str | None = None
    messages: list[_WireMessage] = msgspec.field(default_factory=list)
    percent_complete: int | None = None
    identity_domain: str = ""
    service_id: int = 0
    summary_message: str = ""
    auth_domain: str = ""
    auth_user: str = ""
    initiated_by: str = ""


class _WirePage(msgspec.Struct, rename="camel"):
    activity_logs: list[_WireJob]
    total_count: int


class _WireSubmitted(msgspec.Struct, rename="camel"):
    message: str
    job_id: int | str


class _WireSubmission(msgspec.Struct):
    details: _WireSubmitted


class _WireErrorDetails(msgspec.Struct):
    message: str = ""
    issues: list[str] = msgspec.field(default_factory=list)


class _WireError(msgspec.Struct):
    details: _WireErrorDetails


def _decode(content: bytes, shape: type[T]) -> T:
    try:
        return msgspec.json.decode(content, type=shape)
    except msgspec.DecodeError as exc:
        raise UnexpectedResponse(f"Unexpected answer from the server: {exc}.") from exc


def decode_job(content: bytes) -> Job:
    return _job(_decode(content, _WireJob))


def decode_page(content: bytes, offset: int, limit: int) -> ActivityPage:
    page = _decode(content, _WirePage)
    return ActivityPage(tuple(map(_job, page.activity_logs)), page.total_count, offset, limit)


def decode_submission(
    content: bytes, location: str | None, base_url: str, domain: str
) -> Submission:
    details = _decode(content, _WireSubmission).details
    job_id = _int(details.job_id)
    fallback = f"{base_url.rstrip('/')}{paths.job_path(domain, job_id)}"
    return Submission(job_id, location or fallback, details.message)


def decode_error(content: bytes) -> tuple[str, tuple[str, ...]]:
    """The server's ``details.message`` and ``details.issues``, or empty ones for other bodies."""
    try:
        details = msgspec.json.decode(content, type=_WireError).details
    except msgspec.DecodeError:
        return "", ()
    return details.message, tuple(details.issues)


class _WireToken(msgspec.Struct, kw_only=True):
    id: int
    name: str
    user: str
    role: str
    createdBy: str  # noqa: N815 - the wire's key
    createdAt: str  # noqa: N815
    expiresAt: str  # noqa: N815
    lastUsedAt: str | None = None  # noqa: N815
    token: str | None = None


class _WireTokenList(msgspec.Struct):
    tokens: list[_WireToken]


def decode_token(content: bytes) -> ApiToken:
    return _token(_decode(content, _WireToken))


def decode_token_list(content: bytes) -> list[ApiToken]:
    return [_token(wire) for wire in _decode(content, _WireTokenList).tokens]


def _token(wire: _WireToken) -> ApiToken:
    try:
        created, expires = parse_timestamp(wire.createdAt), parse_timestamp(wire.expiresAt)
        last_used = parse_timestamp(wire.lastUsedAt) if wire.lastUsedAt else None
    except ValueError as exc:
        raise UnexpectedResponse(f"Unexpected timestamp from the server: {exc}.") from exc
    return ApiToken(
        token_id=wire.id,
        name=wire.name,
        user=wire.user,
        role=wire.role,
        created_by=wire.createdBy,
        created_at=created,
        expires_at=expires,
        last_used_at=last_used,
        secret=wire.token,
    )


def decode_event_message(data: str) -> ActivityMessage:
    """A job stream's ``message`` event: its data is the message as the job body has it."""
    wire = _decode(data.encode(), _WireMessage)
    try:
        return ActivityMessage(parse_timestamp(wire.activityDate), wire.message)
    except ValueError as exc:
        raise UnexpectedResponse(f"Unexpected timestamp from the server: {exc}.") from exc


def _int(value: int | str) -> int:
    try:
        return int(value)
    except ValueError as exc:
        raise UnexpectedResponse(f"Expected a numeric job id, got {value!r}.") from exc


def _job(wire: _WireJob) -> Job:
    try:
        start = parse_timestamp(wire.start_date)
        end = parse_timestamp(wire.end_date) if wire.end_date else None
        messages = tuple(
            ActivityMessage(parse_timestamp(m.activityDate), m.message) for m in wire.messages
        )
    except ValueError as exc:
        raise UnexpectedResponse(f"Unexpected timestamp from the server: {exc}.") from exc
    return Job(
        job_id=_int(wire.job_id),
        activity_log_id=wire.activity_log_id,
        status=wire.status,
        service_name=wire.service_name,
        service_type=wire.service_type,
        operation_type=wire.operation_type,
        start_date=start,
        end_date=end,
        messages=messages,
        percent_complete=wire.percent_complete,
        identity_domain=wire.identity_domain,
        service_id=wire.service_id,
        summary_message=wire.summary_message,
        auth_domain=wire.auth_domain,
        auth_user=wire.auth_user,
        initiated_by=wire.initiated_by,
    )


def job_to_wire(job: Job) -> dict[str, Any]:
    """The job as the server renders it (PSM's keys and key order), for JSON output."""
    body: dict[str, Any] = {
        "activityLogId": job.activity_log_id,
        "serviceName": job.service_name,
        "serviceType": job.service_type,
        "identityDomain": job.identity_domain,
        "serviceId": job.service_id,
        "jobId": job.job_id,
        "startDate": format_timestamp(job.start_date),
    }
    if job.end_date is not None:
        body["endDate"] = format_timestamp(job.end_date)
    body |= {
        "status": job.status,
        "operationId": job.service_id,
        "operationType": job.operation_type,
        "summaryMessage": job.summary_message,
        "authDomain": job.auth_domain,
        "authUser": job.auth_user,
        "initiatedBy": job.initiated_by,
        "messages": [message_to_wire(m) for m in job.messages],
    }
    if job.percent_complete is not None:
        body["percentComplete"] = job.percent_complete
    return body


def message_to_wire(message: ActivityMessage) -> dict[str, str]:
    return {"activityDate": format_timestamp(message.date), "message": message.text}


class _WireInstance(msgspec.Struct, kw_only=True, rename="camel"):
    service_id: int
    service_name: str
    service_type: str
    state: str
    status: str = ""
    identity_domain: str = ""
    description: str = ""
    creator: str = ""
    creation_date: str | None = None
    last_modified_date: str | None = None
    service_parameters: dict[str, Any] = msgspec.field(default_factory=dict)


class _WireInstanceList(msgspec.Struct):
    services: list[_WireInstance]


class _WireUserList(msgspec.Struct):
    users: list[User]


def decode_instance(content: bytes) -> Instance:
    return _instance(_decode(content, _WireInstance))


def decode_instance_list(content: bytes) -> list[Instance]:
    return [_instance(wire) for wire in _decode(content, _WireInstanceList).services]


def decode_user(content: bytes) -> User:
    return _decode(content, User)


def decode_user_list(content: bytes) -> list[User]:
    return _decode(content, _WireUserList).users


def _instance(wire: _WireInstance) -> Instance:
    try:
        created = parse_timestamp(wire.creation_date) if wire.creation_date else None
        modified = parse_timestamp(wire.last_modified_date) if wire.last_modified_date else None
    except ValueError as exc:
        raise UnexpectedResponse(f"Unexpected timestamp from the server: {exc}.") from exc
    return Instance(
        service_id=wire.service_id,
        service_name=wire.service_name,
        service_type=wire.service_type,
        state=wire.state,
        status=wire.status,
        identity_domain=wire.identity_domain,
        description=wire.description,
        creator=wire.creator,
        creation_date=created,
        last_modified_date=modified,
        service_parameters=wire.service_parameters,
    )


def instance_to_wire(instance: Instance) -> dict[str, Any]:
    """The instance as the server renders it, for JSON output."""
    dates = {
        "creationDate": instance.creation_date,
        "lastModifiedDate": instance.last_modified_date,
    }
    return {
        "serviceId": instance.service_id,
        "serviceName": instance.service_name,
        "serviceType": instance.service_type,
        "identityDomain": instance.identity_domain,
        "description": instance.description,
        "status": instance.status,
        "state": instance.state,
        "creator": instance.creator,
        **{key: format_timestamp(value) for key, value in dates.items() if value is not None},
        "serviceParameters": instance.service_parameters,
    }
