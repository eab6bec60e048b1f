"""Server-sent event streams: one job's activity, or a whole domain's, as it happens.

A job stream sends each new message as a ``message`` event whose id is the message's position
(counting from 1), plus ``status`` and ``progress`` events carrying the id of the latest
message; ``Last-Event-ID`` resumes after that position. The stream ends with an ``end`` event
once the job has ended, sends keep-alive comments while idle, lives at most
``MAX_STREAM_SECONDS`` (clients reconnect with Last-Event-ID), and ends when the server shuts
down. All waiting goes through the store's change feed; an idle job stream reads its job once
per keep-alive too, which bounds how late it can be when a change's announcement from another
process was lost (that process died just after committing). Domain streams share one reader
per domain (domain_streams.py). Each stream holds one of its user's and its address's stream
slots (open_requests.py) until it ends.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from activitylog import errors
from activitylog.domain.dates import format_timestamp
from activitylog.domain.jobs import WarnReporting, is_terminal
from activitylog.domain.search import JobQuery, parse_job_query, parse_whole_number
from activitylog.http.context import AppContext, authenticate, parse_id
from activitylog.http.domain_streams import sse_event
from activitylog.http.open_requests import OpenRequestSlot
from activitylog.store.records import JobView

KEEP_ALIVE_SECONDS = 15.0
MAX_STREAM_SECONDS = 600.0
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def job_events(request: Request) -> StreamingResponse:
    context, principal = await authenticate(request, "viewer")
    job_id = parse_id(request.path_params["jobId"], "jobId")
    after = parse_whole_number(request.headers.get("last-event-id", "0").strip() or "0") or 0
    if await context.store.get_job(principal.domain_id, job_id) is None:
        raise errors.JobNotFound(f"No job [{job_id}] in identity domain [{principal.domain_name}].")
    slot = context.open_requests.streams.hold(principal, request)
    return HeldStream(job_stream(context, principal.domain_id, job_id, after), slot)


class HeldStream(StreamingResponse):
    """An event stream that gives its slot back when it is over, however it ends: finished,
    client gone, server stopping, or never started at all."""

    def __init__(self, content: AsyncIterator[bytes], slot: OpenRequestSlot) -> None:
        super().__init__(content, media_type="text/event-stream", headers=_HEADERS)
        self._slot = slot

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slot.release()


async def job_stream(
    context: AppContext, domain_id: int, job_id: int, after: int
) -> AsyncGenerator[bytes, None]:
    deadline = time.monotonic() + MAX_STREAM_SECONDS
    sent_status: str | None = None
    sent_percent: int | None = None
    warn = context.job_answers.warn
    with context.store.changes.subscribe(job_id) as subscription:
        while True:
            view = await context.store.get_job(domain_id, job_id)
            if view is None:  # deleted under us: nothing more will come
                return
            for position, message in enumerate(view.messages[after:], start=after + 1):
                data = {
                    "activityDate": format_timestamp(message.activity_date),
                    "message": message.text,
                }
                yield sse_event("message", position, data)
            after = max(after, len(view.messages))
            if view.status != sent_status:
                sent_status = view.status
                yield sse_event("status", after, _status_data(view, warn))
            if view.percent_complete is not None and view.percent_complete != sent_percent:
                sent_percent = view.percent_complete
                yield sse_event("progress", after, {"percentComplete": sent_percent})
            if is_terminal(view.status):
                yield sse_event("end", after, _status_data(view, warn))
                return
            async for keep_alive in _idle(subscription, deadline, context):
                yield keep_alive
            if context.store.changes.closed or time.monotonic() >= deadline:
                return


async def _idle(subscription: Any, deadline: float, context: AppContext) -> AsyncIterator[bytes]:
    """Wait for the next change, or a keep-alive's worth of time, then let the caller read."""
    remaining = deadline - time.monotonic()
    if context.store.changes.closed or remaining <= 0:
        return
    if not await subscription.wait(min(KEEP_ALIVE_SECONDS, remaining)):
        yield b": keep-alive\n\n"


def _status_data(view: JobView, warn: WarnReporting) -> dict[str, Any]:
    status = warn.status(view.service_type, view.status)
    data: dict[str, Any] = {"jobId": view.job_id, "status": status}
    if view.end_date is not None:
        data["endDate"] = format_timestamp(view.end_date)
    return data


async def domain_events(request: Request) -> StreamingResponse:
    """Every change to the domain's jobs that matches the filter's parameters."""
    context, principal = await authenticate(request, "viewer")
    query = parse_job_query(request.query_params.multi_items())
    slot = context.open_requests.streams.hold(principal, request)
    return HeldStream(domain_stream(context, principal.domain_id, query), slot)


async def domain_stream(
    context: AppContext, domain_id: int, query: JobQuery
) -> AsyncGenerator[bytes, None]:
    deadline = time.monotonic() + MAX_STREAM_SECONDS
    with context.domain_streams.join(domain_id, query) as inbox:
        yield b": watching\n\n"
        while (remaining := deadline - time.monotonic()) > 0:
            events = await inbox.take(min(KEEP_ALIVE_SECONDS, remaining))
            if inbox.ended:
                return
            yield b"".join(events) if events else b": keep-alive\n\n"
