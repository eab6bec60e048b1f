"""Pages from the templates, with the headers every console page carries, and the helpers the
templates format with."""

from __future__ import annotations

import datetime as dt
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

from activitylog.console.sessions import Session
from activitylog.console.static_files import asset_url
from activitylog.domain.dates import format_timestamp

# No inline script or style anywhere: htmx is told not to add its indicator style (the
# htmx-config meta tag in base.html), and widths such as the progress bar's are <progress>.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# X-Frame-Options, nosniff and (on every path but the static files) Cache-Control: no-store
# come from the application's ResponseHeadersMiddleware, as for the API's answers.
_PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
}


def _epoch_ms_to_iso(epoch_ms: int) -> str:
    return dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC).isoformat(timespec="milliseconds")


def _duration(milliseconds: int | None) -> str:
    """``1h 02m``, ``3m 04s``, ``5.2s``: short, and precise where it matters."""
    if milliseconds is None:
        return ""
    seconds = milliseconds / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, second = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {second:02d}s"
    hours, minute = divmod(minutes, 60)
    return f"{hours}h {minute:02d}m"


_environment = jinja2.Environment(
    loader=jinja2.PackageLoader("activitylog.console", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.globals["asset_url"] = asset_url
_environment.filters["timestamp"] = format_timestamp
_environment.filters["iso"] = _epoch_ms_to_iso
_environment.filters["duration"] = _duration


def render(template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    body = _environment.get_template(template).render(**values)
    return HTMLResponse(body, status_code, headers=_PAGE_HEADERS)


def refusal(problem: str, status_code: int, session: Session | None = None) -> HTMLResponse:
    """A page that says what was refused and what to do next (``problem``)."""
    return render("refused.html", status_code, problem=problem, session=session)
