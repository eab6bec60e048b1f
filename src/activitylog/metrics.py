"""Prometheus metrics, served at /metrics by the API and by `activitylog worker --port`.

Names follow Prometheus conventions: base units (seconds), ``_total`` for counters. Requests are
counted in a plain dict (``count_request``), exported on scrape: the job-status fast path counts
its answers too, at the cost of one dict update. The gauges read from the database (waiting
jobs, the oldest one's age, pool connections in use) are read when scraped.

Renamed in 0.x (CHANGELOG.md): none. ``activitylog_job_run_seconds`` and
``activitylog_jobs_ended_total{status}`` stay beside the new per-type series.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import REGISTRY, CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from activitylog.domain.dates import now_ms

if TYPE_CHECKING:
    from starlette.routing import BaseRoute

    from activitylog.store.base import Store

JOBS_CLAIMED = Counter("activitylog_jobs_claimed_total", "Jobs this process claimed.")
JOBS_ENDED = Counter(
    "activitylog_jobs_ended_total", "Jobs this process ended, by final status.", ["status"]
)
JOBS_RESCUED = Counter(
    "activitylog_jobs_rescued_total",
    "Jobs this process rescued after their worker's lease expired: NEW (retried) or FAILED.",
    ["status"],
)
JOBS_RELEASED = Counter(
    "activitylog_jobs_released_total", "Jobs this process handed back when shutting down."
)
JOB_DURATION = Histogram(
    "activitylog_job_run_seconds",
    "Time from claim to end of the jobs this process ran.",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400),
)
LONG_POLLS = Gauge(
    "activitylog_long_polls_waiting",
    "Job-status requests with ?wait that this process holds open right now.",
)

# -- jobs by service type and operation --------------------------------------------------------

_JOB_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600, 14400)
JOB_STARTS = Counter(
    "activitylog_job_starts_total",
    "Jobs this process's worker started (claimed), by service type and operation type.",
    ["service_type", "operation_type"],
)
JOB_ENDS = Counter(
    "activitylog_job_ends_total",
    "Jobs this process's worker ended, by service type, operation type and final status.",
    ["service_type", "operation_type", "status"],
)
JOB_DURATION_SECONDS = Histogram(
    "activitylog_job_duration_seconds",
    "Time from claim to end of the jobs this process ran.",
    ["service_type", "operation_type"],
    buckets=_JOB_BUCKETS,
)
JOB_WAIT_SECONDS = Histogram(
    "activitylog_job_wait_seconds",
    "Time a job waited to be claimed, from when it could run (submission, or a retry's "
    "backoff over) to its claim.",
    ["service_type"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
JOB_RETRIES = Counter(
    "activitylog_job_retries_total",
    "Jobs this process's rescuer put back to NEW for another attempt (their lease expired).",
)
JOB_CANCELLATIONS = Counter(
    "activitylog_job_cancellations_total", "Cancellation requests this process accepted."
)
LEASES_HELD = Gauge("activitylog_leases_held", "Job leases this process's worker holds right now.")
JOBS_WAITING = Gauge(
    "activitylog_jobs_waiting", "NEW jobs that could run now, in the whole database (at scrape)."
)
OLDEST_WAITING_AGE = Gauge(
    "activitylog_oldest_waiting_job_age_seconds",
    "How long the oldest job that could run now has waited (0: none waits).",
)
POOL_IN_USE = Gauge(
    "activitylog_db_pool_connections_in_use",
    "PostgreSQL: pooled connections this process is using right now (at scrape).",
)

# -- retention ---------------------------------------------------------------------------------

PRUNED = Counter(
    "activitylog_pruned_total",
    "Rows this process's retention pruned: jobs, messages, idempotency_keys, audit_events.",
    ["kind"],
)
PRUNE_BATCHES = Counter(
    "activitylog_prune_batches_total",
    "Prune transactions this process ran, by outcome: pruned, skipped (another process was "
    "pruning), failed.",
    ["outcome"],
)
PRUNE_RUNNING = Gauge(
    "activitylog_prune_running", "1 while this process is pruning (a pass of batches)."
)
PRUNE_LAST_PASS = Gauge(
    "activitylog_prune_last_pass_timestamp_seconds",
    "When this process last finished a prune pass (Unix time).",
)

# -- HTTP requests -----------------------------------------------------------------------------

# A defaultdict, not a Counter: its += is a third cheaper, and every job-status poll pays it.
HTTP_REQUESTS: collections.defaultdict[tuple[str, str, int], int] = collections.defaultdict(int)
"""(route template, method, status) -> requests answered; exported by _RequestCounts."""
UNMATCHED_ROUTE = "unmatched"


def count_request(route: str, method: str, status: int) -> None:
    HTTP_REQUESTS[route, method, status] += 1


def route_template(route: BaseRoute | None) -> str:
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class _RequestCounts(Collector):
    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "activitylog_http_requests",
            "HTTP requests this process answered, by route template, method and status.",
            labels=["route", "method", "status"],
        )
        for (route, method, status), count in list(HTTP_REQUESTS.items()):
            family.add_metric([route, method, str(status)], count)
        yield family


REGISTRY.register(_RequestCounts())


async def read_store_gauges(store: Store) -> None:
    """The gauges only the database knows; left as they were when it does not answer."""
    try:
        waiting, oldest = await store.waiting_jobs()
    except Exception:
        return
    JOBS_WAITING.set(waiting)
    OLDEST_WAITING_AGE.set(0 if oldest is None else max(0, now_ms() - oldest) / 1000)
    in_use = getattr(store, "connections_in_use", None)
    if isinstance(in_use, int):
        POOL_IN_USE.set(in_use)


def metrics_endpoint_for(store: Store | None):  # type: ignore[no-untyped-def]
    async def metrics_endpoint(request: Request) -> Response:
        if store is not None:
            await read_store_gauges(store)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return metrics_endpoint


metrics_endpoint = metrics_endpoint_for(None)
