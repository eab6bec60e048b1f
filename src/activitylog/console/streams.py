"""The console's event streams: the API's domain and job streams, for a signed-in session.

A browser's EventSource cannot send an Authorization header, so the console serves the same
streams (http/events.py) under its own paths, authenticated by the session cookie, holding
the same per-user and per-address stream slots.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from activitylog.console.sessions import Session
from activitylog.domain.search import JobQuery, parse_whole_number
from activitylog.http.context import AppContext
from activitylog.http.events import HeldStream, domain_stream, job_stream


async def domain_events(request: Request, context: AppContext, session: Session) -> Response:
    """Every change to the session's domain's jobs: the Activity page fetches its list again
    on each (its filter is applied there, so a job leaving the filter is seen to leave)."""
    principal = session.principal
    slot = context.open_requests.streams.hold(principal, request)
    return HeldStream(domain_stream(context, principal.domain_id, JobQuery()), slot)


async def job_events(request: Request, context: AppContext, session: Session) -> Response:
    principal = session.principal
    job_id = parse_whole_number(request.path_params["jobId"])
    after = parse_whole_number(request.headers.get("last-event-id", "0").strip() or "0") or 0
    if job_id is None or await context.store.get_job(principal.domain_id, job_id) is None:
        return Response(b"", 204)  # an EventSource does not reconnect after a 204
    slot = context.open_requests.streams.hold(principal, request)
    return HeldStream(job_stream(context, principal.domain_id, job_id, after), slot)
