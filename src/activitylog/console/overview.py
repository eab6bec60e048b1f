"""The Overview page: the domain's jobs started and ended over a window (1 h, 24 h or 7 d, in
the URL), the failure rate, durations by operation type, and what waits and runs now.

Everything comes from one store read (store.job_overview). The page carries its series as
JSON in a `data-series` attribute (htmx drops every <script> of a fetched part) that
static/overview.js draws with uPlot; the same numbers are in the page as text and tables,
which is what a screen reader and the tests read. Its live part is fetched again when the
domain's stream says something changed, at most every 4 seconds (streams.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from activitylog.console.rendering import render
from activitylog.console.sessions import Session
from activitylog.domain.dates import now_ms
from activitylog.domain.jobs import JobStatus
from activitylog.http.context import AppContext
from activitylog.store.records import JobOverview

MINUTE_MS = 60_000
ENDED_STATUSES = (JobStatus.SUCCEED.value, JobStatus.WARN.value, JobStatus.FAILED.value)


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    label: str
    bucket_label: str
    bucket_ms: int
    buckets: int


WINDOWS = {
    "1h": Window("1 h", "minute", MINUTE_MS, 60),
    "24h": Window("24 h", "5 minutes", 5 * MINUTE_MS, 288),
    "7d": Window("7 d", "hour", 60 * MINUTE_MS, 168),
}
DEFAULT_WINDOW = "1h"


async def overview_page(request: Request, context: AppContext, session: Session) -> Response:
    return render("overview.html", **await _overview_values(request, context, session))


async def overview_live(request: Request, context: AppContext, session: Session) -> Response:
    return render("overview_live.html", **await _overview_values(request, context, session))


async def _overview_values(
    request: Request, context: AppContext, session: Session
) -> dict[str, Any]:
    asked = request.query_params.get("window", DEFAULT_WINDOW)
    key = asked if asked in WINDOWS else DEFAULT_WINDOW
    window = WINDOWS[key]
    now = now_ms()
    # Whole buckets, the last one holding now: a bucket's counts never move to its neighbour.
    until = now - now % window.bucket_ms + window.bucket_ms
    since = until - window.buckets * window.bucket_ms
    found = await context.store.job_overview(
        session.principal.domain_id, since, until, window.bucket_ms
    )
    buckets = list(range(since, until, window.bucket_ms))
    return {
        "session": session,
        "windows": WINDOWS,
        "window_key": key,
        "window": window,
        "unknown_window": "" if asked == key else asked,
        "since": since,
        "now": now,
        **_totals(found),
        "rows": _rows(found, buckets),
        "durations": found.durations,
        "waiting": found.waiting,
        "oldest_waiting_ms": None if found.oldest_waiting is None else now - found.oldest_waiting,
        "workers": found.workers,
        "leases": found.leases,
        "chart_data": _chart_data(found, buckets, window),
    }


def _totals(found: JobOverview) -> dict[str, Any]:
    ended = dict.fromkeys(ENDED_STATUSES, 0)
    for statuses in found.ended.values():
        for status, jobs in statuses.items():
            ended[status] = ended.get(status, 0) + jobs
    ended_total = sum(ended.values())
    failed = ended[JobStatus.FAILED.value]
    return {
        "started_total": sum(found.started.values()),
        "ended_by_status": ended,
        "ended_total": ended_total,
        "failed": failed,
        "failure_rate": _percent(failed, ended_total),
    }


def _percent(part: int, whole: int) -> float | None:
    return None if whole == 0 else round(100 * part / whole, 1)


def _rows(found: JobOverview, buckets: list[int]) -> list[dict[str, Any]]:
    """The buckets in which anything started or ended, newest first, for the page's table."""
    rows = []
    for bucket in reversed(buckets):
        ended = found.ended.get(bucket, {})
        started = found.started.get(bucket, 0)
        if started or ended:
            ended_total = sum(ended.values())
            failed = ended.get(JobStatus.FAILED.value, 0)
            rows.append(
                {
                    "bucket": bucket,
                    "started": started,
                    "ended": {status: ended.get(status, 0) for status in ENDED_STATUSES},
                    "failure_rate": _percent(failed, ended_total),
                }
            )
    return rows


def _chart_data(found: JobOverview, buckets: list[int], window: Window) -> dict[str, Any]:
    """What overview.js draws: times in epoch seconds (uPlot's), durations in seconds."""

    def ended(bucket: int, status: str) -> int:
        return found.ended.get(bucket, {}).get(status, 0)

    return {
        "bucketLabel": window.bucket_label,
        "times": [bucket // 1000 for bucket in buckets],
        "started": [found.started.get(bucket, 0) for bucket in buckets],
        "ended": {
            status: [ended(bucket, status) for bucket in buckets] for status in ENDED_STATUSES
        },
        "failureRate": [
            _percent(
                ended(bucket, JobStatus.FAILED.value), sum(found.ended.get(bucket, {}).values())
            )
            for bucket in buckets
        ],
        "operations": [durations.operation_type for durations in found.durations],
        "p50": [durations.p50_ms / 1000 for durations in found.durations],
        "p95": [durations.p95_ms / 1000 for durations in found.durations],
    }
