"""Prometheus metrics, served at /metrics by the API and by `activitylog worker --port`."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

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


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
