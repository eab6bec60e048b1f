"""The console's event streams: the API's domain and job streams, for a signed-in session.

A browser's EventSource cannot send an Authorization header, so the console serves the same
streams (http/events.py) under its own paths, authenticated by the session cookie, holding
the same per-user and per-address stream slots. A stream outlives its session by at most
SESSION_CHECK_SECONDS (and a keep-alive): a sign-out, a password change or a deleted user
ends it, rather than the stream's own ten-minute bound.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from activitylog.console.sessions import Session
from activitylog.domain.search import JobQuery, parse_whole_number
from activitylog.http.context import AppContext
from activitylog.http.events import HeldStream, domain_stream, job_stream

SESSION_CHECK_SECONDS = 15.0
"""How often an open stream asks whether its session still stands: one point read."""
StillSignedIn = Callable[[Request], Awaitable[bool]]
StreamEndpoint = Callable[[Request, AppContext, Session, StillSignedIn], Awaitable[Response]]


async def while_signed_in(
    content: AsyncGenerator[bytes, None], request: Request, still_signed_in: StillSignedIn
) -> AsyncIterator[bytes]:
    """The stream's events and keep-alives (one every 15 s at least) until its session ends."""
    checked = time.monotonic()
    async with contextlib.aclosing(content):
        async for chunk in content:
            if time.monotonic() - checked >= SESSION_CHECK_SECONDS:
                if not await still_signed_in(request):
                    return
                checked = time.monotonic()
            yield chunk


async def domain_events(
    request: Request, context: AppContext, session: Session, still_signed_in: StillSignedIn
) -> Response:
    """Every change to the session's domain's jobs: the Activity page fetches its list again
    on each (its filter is applied there, so a job leaving the filter is seen to leave)."""
    principal = session.principal
    slot = context.open_requests.streams.hold(principal, request)
    events = domain_stream(context, principal.domain_id, JobQuery())
    return HeldStream(while_signed_in(events, request, still_signed_in), slot)


async def job_events(
    request: Request, context: AppContext, session: Session, still_signed_in: StillSignedIn
) -> Response:
    principal = session.principal
    job_id = parse_whole_number(request.path_params["jobId"])
    after = parse_whole_number(request.headers.get("last-event-id", "0").strip() or "0") or 0
    if job_id is None or await context.store.get_job(principal.domain_id, job_id) is None:
        return Response(b"", 204)  # an EventSource does not reconnect after a 204
    slot = context.open_requests.streams.hold(principal, request)
    events = job_stream(context, principal.domain_id, job_id, after)
    return HeldStream(while_signed_in(events, request, still_signed_in), slot)
