"""The job-status GET, PSM's hottest route, and our opt-in extensions to it.

Plain GETs are what existing clients send: their answers come from job_answers' cache while
the job cannot have changed (job_status_fast_path serves such hits before Starlette sees
them). Every answer carries an ETag (the job's version); ``If-None-Match`` gets 304.
``?wait=N`` holds the answer until the job differs from the version the client holds, and
``?sinceMessage=K`` returns only the messages after the first K.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette.requests import Request
from starlette.responses import Response

from activitylog import errors, metrics
from activitylog.domain.jobs import is_terminal
from activitylog.domain.search import parse_whole_number
from activitylog.http.auth import Principal
from activitylog.http.context import AppContext, authenticate, parse_id
from activitylog.http.job_answers import etag_matches, job_answer, job_etag
from activitylog.store.changes import JobSubscription
from activitylog.store.records import JobView

MAX_WAIT_SECONDS = 60


async def get_job(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    job_id = parse_id(request.path_params["jobId"], "jobId")
    if request.query_params:
        return await _get_job_with_options(request, context, principal, job_id)
    answers = context.job_answers
    answer, token = answers.lookup(principal.domain_id, job_id)
    if answer is None:
        answer = await answers.read(context.store.get_job, principal.domain_id, job_id, token)
        if answer is None:
            raise _not_found(principal, job_id)
    return answer.response(request.headers.get("if-none-match"))


async def _get_job_with_options(
    request: Request, context: AppContext, principal: Principal, job_id: int
) -> Response:
    wait = _bounded_number(request, "wait", MAX_WAIT_SECONDS)
    since = _bounded_number(request, "sinceMessage", None) or 0
    held = request.headers.get("if-none-match")
    slot = context.open_requests.long_polls.hold(principal, request) if wait else None
    with (
        slot or contextlib.nullcontext(),
        context.store.changes.subscribe(job_id) as subscription,
        metrics.LONG_POLLS.track_inprogress(),
        _ClientWatch(request) as client,
    ):
        view = await _read(context, principal, job_id)
        # Without If-None-Match the client holds "now": wait for anything newer.
        holding = held if held is not None else job_etag(view)
        deadline = time.monotonic() + (wait or 0)
        while not is_terminal(view.status) and etag_matches(holding, job_etag(view)):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await client.wait_unless_gone(subscription, remaining):
                break
            view = await _read(context, principal, job_id)
    return job_answer(view, context.job_answers.warn, messages_from=since).response(held)


class _ClientWatch:
    """Whether the client of a long-poll is still there: one that hangs up ends the wait at
    once, instead of holding its subscription (and a slot of the server) until the deadline."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._gone: asyncio.Task[None] | None = None

    def __enter__(self) -> _ClientWatch:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._gone is not None:
            self._gone.cancel()

    async def wait_unless_gone(self, subscription: JobSubscription, seconds: float) -> bool:
        """True when the job changed within ``seconds``; False at the deadline, or as soon as
        the client disconnects (its answer then goes nowhere)."""
        if self._gone is None:
            self._gone = asyncio.ensure_future(_disconnected(self._request))
        if self._gone.done():
            return False
        changed = asyncio.ensure_future(subscription.wait(seconds))
        await asyncio.wait([changed, self._gone], return_when=asyncio.FIRST_COMPLETED)
        if not changed.done():
            changed.cancel()
            return False
        return changed.result()


async def _disconnected(request: Request) -> None:
    """Return when the ASGI server says the client went away (a GET has no body to read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _read(context: AppContext, principal: Principal, job_id: int) -> JobView:
    view = await context.store.get_job(principal.domain_id, job_id)
    if view is None:
        raise _not_found(principal, job_id)
    return view


def _not_found(principal: Principal, job_id: int) -> errors.JobNotFound:
    return errors.JobNotFound(f"No job [{job_id}] in identity domain [{principal.domain_name}].")


def _bounded_number(request: Request, name: str, maximum: int | None) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    value = parse_whole_number(text.strip())
    if value is None or (maximum is not None and value > maximum):
        bound = f"from 0 to {maximum}" if maximum is not None else "of 0 or more"
        raise errors.InvalidRequest(
            f"{name} must be a whole number {bound}.", [f"{name}: expected a whole number {bound}"]
        )
    return value
