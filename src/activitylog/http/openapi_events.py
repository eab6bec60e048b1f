"""What /openapi.json says of the two event streams: the schema of one event, as OpenAPI 3.1
has a `text/event-stream` schema describe each event (`{event, id, data}`, `data` the JSON
text of the event's body; comments such as `: watching` and `: keep-alive` are no events).
tests/api/test_event_schemas.py holds real streams to these schemas."""

from __future__ import annotations

from typing import Any

_TIMESTAMP = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"}
_STATUS = {"type": "string", "enum": ["NEW", "RUNNING", "SUCCEED", "FAILED", "WARN"]}
_POSITION = {"type": "string", "pattern": "^(0|[1-9][0-9]*)$"}
_MESSAGE = {
    "type": "object",
    "properties": {"activityDate": _TIMESTAMP, "message": {"type": "string"}},
    "required": ["activityDate", "message"],
}
_JOB_STATUS = {
    "type": "object",
    "properties": {"jobId": {"type": "integer"}, "status": _STATUS, "endDate": _TIMESTAMP},
    "required": ["jobId", "status"],
}
_PROGRESS = {
    "type": "object",
    "properties": {"percentComplete": {"type": "integer", "minimum": 0, "maximum": 100}},
    "required": ["percentComplete"],
}
_JOB_SUMMARY = {
    "type": "object",
    "properties": {
        "jobId": {"type": "integer"},
        "activityLogId": {"type": "integer"},
        "serviceName": {"type": "string"},
        "serviceType": {"type": "string"},
        "operationType": {"type": "string"},
        "status": _STATUS,
        "startDate": _TIMESTAMP,
        "endDate": _TIMESTAMP,
        "lastMessage": {
            "type": "object",
            "properties": {**_MESSAGE["properties"], "position": {"type": "integer", "minimum": 1}},  # type: ignore[dict-item]
            "required": ["activityDate", "message", "position"],
        },
        "percentComplete": {"type": "integer", "minimum": 0, "maximum": 100},
    },
    "required": [
        "jobId", "activityLogId", "serviceName", "serviceType", "operationType", "status",
        "startDate",
    ],
}  # fmt: skip


def _event(kind: str, event_id: dict[str, Any], data: dict[str, Any], about: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": about,
        "properties": {
            "event": {"const": kind},
            "id": event_id,
            "data": {
                "type": "string",
                "contentMediaType": "application/json",
                "contentSchema": data,
            },
        },
        "required": ["event", "id", "data"],
    }


JOB_STREAM_EVENT = {
    "oneOf": [
        _event("message", _POSITION, _MESSAGE, "A new message; id: its position, from 1."),
        _event("status", _POSITION, _JOB_STATUS, "The status; id: the latest message's."),
        _event("progress", _POSITION, _PROGRESS, "Progress; id: the latest message's."),
        _event("end", _POSITION, _JOB_STATUS, "The job ended: the stream's last event."),
    ]
}
DOMAIN_STREAM_EVENT = _event(
    "job",
    {"type": "string", "pattern": "^[0-9]+\\.[0-9]+$"},
    _JOB_SUMMARY,
    "A job of the domain changed and matches the filter; id: `jobId.version`.",
)


def event_stream(event_schema: dict[str, Any], comments: str) -> dict[str, Any]:
    return {
        "description": f"A server-sent event stream. {comments}",
        "content": {"text/event-stream": {"schema": event_schema}},
    }
