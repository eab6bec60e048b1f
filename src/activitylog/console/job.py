"""The Job page: one job's status, progress, timeline, steps on a time axis, body and JSON, and
Cancel; its live part is fetched again when the job's stream says something changed."""

from __future__ import annotations

from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from activitylog import errors
from activitylog.client import paths
from activitylog.console.activity import job_row
from activitylog.console.forms import can_operate, read_form, refusal_of_form
from activitylog.console.job_steps import job_steps
from activitylog.console.rendering import refusal, render
from activitylog.console.sessions import Session
from activitylog.domain.jobs import is_terminal
from activitylog.http.bodies import encode, job_body
from activitylog.http.cancel_api import cancel_and_record
from activitylog.http.context import AppContext
from activitylog.store.records import JobView

MAX_MESSAGES = 300
"""The Job page lists a job's newest messages up to this many (the API serves them all): a
handler that writes thousands still leaves a page well under 200 KB."""
MAX_RAW_JSON = 60_000
"""Beyond this many characters the page links to the job's JSON instead of showing it."""


async def job_page(request: Request, context: AppContext, session: Session) -> Response:
    values = await _job_values(request, context, session)
    if values is None:
        return refusal("There is no such job in your identity domain.", 404, session)
    return render("job.html", **values)


async def job_live(request: Request, context: AppContext, session: Session) -> Response:
    values = await _job_values(request, context, session)
    if values is None:
        return refusal("There is no such job in your identity domain.", 404, session)
    return render("job_live.html", **values)


async def _job_values(
    request: Request, context: AppContext, session: Session
) -> dict[str, Any] | None:
    job_id = _job_id(request)
    view = (
        None if job_id is None else await context.store.get_job(session.principal.domain_id, job_id)
    )
    if view is None:
        return None
    body = job_body(view, context.job_answers.warn)
    fields = {k: v for k, v in msgspec.structs.asdict(body).items() if k != "messages"}
    api_path = paths.job_path(session.principal.domain_name, view.job_id)
    base = str(request.base_url).rstrip("/")
    curl = f"curl -u '{session.principal.user_name}' '{base}{api_path}'"
    raw_json = msgspec.json.format(encode(body), indent=2).decode()
    row = job_row(view, context)
    return {
        "session": session,
        "view": view,
        "fields": fields,
        "status": body.status,
        "raw_json": raw_json if len(raw_json) <= MAX_RAW_JSON else "",
        "raw_json_size": len(raw_json),
        "curl": curl,
        "row": row,
        "messages": view.messages[-MAX_MESSAGES:],
        "steps": job_steps(view.messages, view.start_date, view.start_date + row["duration_ms"]),
        "terminal": is_terminal(view.status),
        "can_cancel": can_operate(session) and not is_terminal(view.status),
        "cancelled_by": _cancelled_by(view),
    }


def _job_id(request: Request) -> int | None:
    text: str = request.path_params["jobId"]
    return int(text) if text.isdigit() and len(text) < 19 else None


def _cancelled_by(view: JobView) -> str:
    """Who cancelled the job, as its messages say ("Cancellation requested by joe.")."""
    for message in reversed(view.messages):
        for prefix in ("Cancelled by ", "Cancellation requested by "):
            if message.text.startswith(prefix):
                return message.text[len(prefix) :].rstrip(".")
    return ""


async def cancel_job(request: Request, context: AppContext, session: Session) -> Response:
    refused = refusal_of_form(session, await read_form(request), "Cancelling a job")
    if refused is not None:
        return refused
    principal = session.principal
    job_id = _job_id(request)
    if job_id is None:
        return refusal("There is no such job in your identity domain.", 404, session)
    try:
        await cancel_and_record(request, context, principal, job_id)
    except errors.JobNotFound:
        return refusal("There is no such job in your identity domain.", 404, session)
    except errors.Conflict:
        return RedirectResponse(f"/console/jobs/{job_id}", 303)  # it ended first: show how
    return RedirectResponse(f"/console/jobs/{job_id}", 303)
