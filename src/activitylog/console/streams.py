"""The console's event streams: the API's domain and job streams, for a signed-in session.

A browser's EventSource cannot send an Authorization header, so the console serves the same
streams (http/events.py) under its own paths, authenticated by the session cookie, holding
the same per-user and per-address stream slots.

A page does not read the events: it fetches its live part again on each. So the console's
streams say only that something changed, at most once an interval (changes_at_most_every):
a busy domain, or a handler writing a hundred messages a second, costs an open page a few
fetches a second, not one an event. (htmx's own `throttle` cannot do this: while it holds an
element back it drops every event for that element, the job's `end` included.)

A stream outlives its session by at most SESSION_CHECK_SECONDS (and a keep-alive): a
sign-out, a password change or a deleted user ends it, rather than the stream's own
ten-minute bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from activitylog.console.sessions import Session
from activitylog.domain.search import JobQuery, parse_whole_number
from activitylog.http.context import AppContext
from activitylog.http.events import HeldStream, domain_stream, job_stream

CHANGE = b"event: change\ndata: {}\n\n"
"""What a page hears: something changed; fetch the live part again."""
ACTIVITY_INTERVAL = 0.5
"""The Activity and Services pages: a change shows within half a second."""
JOB_INTERVAL = 0.3
LONGEST_INTERVAL = 60.0
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


async def changes_at_most_every(
    content: AsyncGenerator[bytes, None], interval: float
) -> AsyncGenerator[bytes, None]:
    """One CHANGE for any number of the stream's events: at once after a quiet interval, else
    when the interval since the last one ends. Keep-alives pass while no change waits; a job's
    ``end`` event passes as it is (the page closes its stream on it, and fetches once more)."""
    loop = asyncio.get_running_loop()
    sent_at, waiting = -math.inf, False
    upcoming = asyncio.ensure_future(anext(content))
    try:
        while True:
            wait = max(0.0, sent_at + interval - loop.time()) if waiting else None
            done, _ = await asyncio.wait({upcoming}, timeout=wait)
            if not done:
                yield CHANGE
                sent_at, waiting = loop.time(), False
                continue
            try:
                chunk = upcoming.result()
            except StopAsyncIteration:
                if waiting:
                    yield CHANGE
                return
            upcoming = asyncio.ensure_future(anext(content))
            if chunk.startswith(b":"):
                if not waiting:
                    yield chunk  # a comment: the keep-alive, or the stream's first word
            elif chunk.startswith(b"event: end\n"):
                yield chunk
                waiting = False
            elif loop.time() - sent_at >= interval:
                yield CHANGE
                sent_at = loop.time()
            else:
                waiting = True
    finally:
        if not upcoming.done():
            upcoming.cancel()
            await asyncio.wait({upcoming})
        await content.aclose()


async def domain_events(
    request: Request, context: AppContext, session: Session, still_signed_in: StillSignedIn
) -> Response:
    """A change to the session's domain's jobs, at most every ``?every=`` seconds (0.5 by
    default): the page fetches its list again (its filter is applied there, so a job leaving
    the filter is seen to leave)."""
    principal = session.principal
    interval = _interval(request.query_params.get("every"), ACTIVITY_INTERVAL)
    slot = context.open_requests.streams.hold(principal, request)
    events = changes_at_most_every(
        domain_stream(context, principal.domain_id, JobQuery()), interval
    )
    return HeldStream(while_signed_in(events, request, still_signed_in), slot)


async def job_events(
    request: Request, context: AppContext, session: Session, still_signed_in: StillSignedIn
) -> Response:
    principal = session.principal
    job_id = parse_whole_number(request.path_params["jobId"])
    if job_id is None or await context.store.get_job(principal.domain_id, job_id) is None:
        return Response(b"", 204)  # an EventSource does not reconnect after a 204
    slot = context.open_requests.streams.hold(principal, request)
    events = changes_at_most_every(
        # From the first message: the page fetches the whole job on a change, and a `change`
        # carries no event id for a reconnection to resume from.
        job_stream(context, principal.domain_id, job_id, 0),
        JOB_INTERVAL,
    )
    return HeldStream(while_signed_in(events, request, still_signed_in), slot)


def _interval(text: str | None, default: float) -> float:
    """``?every=`` in seconds, kept between the default and a minute; the default otherwise."""
    try:
        chosen = float(text) if text else default
    except ValueError:
        return default
    return min(max(chosen, default), LONGEST_INTERVAL) if math.isfinite(chosen) else default
