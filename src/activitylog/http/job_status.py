"""The job-status GET, PSM's hottest route, and our opt-in extensions to it.

Plain GETs are what existing clients send: an ended job's encoded body is cached, since it
never changes again. Every answer carries an ETag (the job's version); ``If-None-Match`` gets
304. ``?wait=N`` holds the answer until the job differs from the version the client holds, and
``?sinceMessage=K`` returns only the messages after the first K.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from activitylog import errors
from activitylog.domain.jobs import is_terminal
from activitylog.domain.search import parse_whole_number
from activitylog.http.auth import Principal
from activitylog.http.bodies import encode, job_body
from activitylog.http.context import AppContext, authenticate, parse_id
from activitylog.store.records import JobView

MAX_WAIT_SECONDS = 60
# How soon a client should ask again about a job that has not ended.
RETRY_AFTER_SECONDS = "3"
_JSON = "application/json"


def job_etag(view: JobView) -> str:
    return f'"{view.job_id}.{view.version}"'


async def get_job(request: Request) -> Response:
    context, principal = await authenticate(request, "viewer")
    job_id = parse_id(request.path_params["job_id"], "jobId")
    if request.query_params:
        return await _get_job_with_options(request, context, principal, job_id)
    held = request.headers.get("if-none-match")
    cached = context.ended_jobs.get(principal.domain_id, job_id)
    if cached is not None:
        body, etag = cached
        return _answer(body, etag, ended=True, held=held)
    view = await _read(context, principal, job_id)
    body, etag = encode(job_body(view)), job_etag(view)
    if is_terminal(view.status):
        context.ended_jobs.put(principal.domain_id, job_id, (body, etag))
    return _answer(body, etag, ended=is_terminal(view.status), held=held)


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
        while not is_terminal(view.status) and _held(holding, job_etag(view)):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await subscription.wait(remaining):
                break
            view = await _read(context, principal, job_id)
    body = job_body(view)
    body.messages = body.messages[since:]
    return _answer(encode(body), job_etag(view), ended=is_terminal(view.status), held=held)


async def _read(context: AppContext, principal: Principal, job_id: int) -> JobView:
    view = await context.store.get_job(principal.domain_id, job_id)
    if view is None:
        raise errors.JobNotFound(f"No job [{job_id}] in identity domain [{principal.domain_name}].")
    return view


def _answer(body: bytes, etag: str, *, ended: bool, held: str | None) -> Response:
    headers = {"ETag": etag} if ended else {"ETag": etag, "Retry-After": RETRY_AFTER_SECONDS}
    if held is not None and _held(held, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, headers=headers, media_type=_JSON)


def _held(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag (weak comparison, as RFC 9110 asks)."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


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
