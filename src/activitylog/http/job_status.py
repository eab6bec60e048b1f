"""The job-status GET, PSM's hottest route, and our opt-in extensions to it.

Plain GETs are what existing clients send: their answers come from job_answers' cache while
the job cannot have changed (hot_path serves such hits before Starlette sees them). Every
answer carries an ETag (the job's version); ``If-None-Match`` gets 304. ``?wait=N`` holds the
answer until the job differs from the version the client holds, and ``?sinceMessage=K``
returns only the messages after the first K.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from activitylog import errors
from activitylog.domain.jobs import is_terminal
from activitylog.domain.search import parse_whole_number
from activitylog.http.auth import Principal
from activitylog.http.context import AppContext, authenticate, parse_id
from activitylog.http.job_answers import etag_matches, job_answer, job_etag
from activitylog.store.records import JobView

MAX_WAIT_SECONDS = 60


async def get_job(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    job_id = parse_id(request.path_params["job_id"], "jobId")
    if request.query_params:
        return await _get_job_with_options(request, context, principal, job_id)
    answer, token = context.job_answers.lookup(principal.domain_id, job_id)
    if answer is None:
        answer = job_answer(await _read(context, principal, job_id))
        context.job_answers.put(principal.domain_id, job_id, answer, token)
    return answer.response(request.headers.get("if-none-match"))


async def _get_job_with_options(
    request: Request, context: AppContext, principal: Principal, job_id: int
) -> Response:
    wait = _bounded_number(request, "wait", MAX_WAIT_SECONDS)
    since = _bounded_number(request, "sinceMessage", None) or 0
    held = request.headers.get("if-none-match")
    with context.store.changes.subscribe(job_id) as subscription:
        view = await _read(context, principal, job_id)
        # Without If-None-Match the client holds "now": wait for anything newer.
        holding = held if held is not None else job_etag(view)
        deadline = time.monotonic() + (wait or 0)
        while not is_terminal(view.status) and etag_matches(holding, job_etag(view)):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await subscription.wait(remaining):
                break
            view = await _read(context, principal, job_id)
    return job_answer(view, messages_from=since).response(held)


async def _read(context: AppContext, principal: Principal, job_id: int) -> JobView:
    view = await context.store.get_job(principal.domain_id, job_id)
    if view is None:
        raise errors.JobNotFound(f"No job [{job_id}] in identity domain [{principal.domain_name}].")
    return view


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
