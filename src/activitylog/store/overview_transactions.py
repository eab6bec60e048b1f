"""The console's Overview, read in one snapshot, written once for both dialects: one identity
domain's jobs started and ended per bucket of a window, their durations by operation type,
and what waits and runs now in every domain (the same reads as /metrics' gauges)."""

from __future__ import annotations

from activitylog.store import steps
from activitylog.store.records import JobOverview, OperationDurations
from activitylog.store.retention_transactions import waiting_jobs
from activitylog.store.steps import Transaction


def job_overview(
    domain_id: int, since: int, until: int, bucket_ms: int, now: int
) -> Transaction[JobOverview]:
    window = {"domain_id": domain_id, "since": since, "until": until}
    started = yield steps.rows("jobs_started_per_bucket", bucket_ms=bucket_ms, **window)
    ended: dict[int, dict[str, int]] = {}
    for found in (yield steps.rows("jobs_ended_per_bucket", bucket_ms=bucket_ms, **window)):
        ended.setdefault(int(found["bucket"]), {})[found["status"]] = int(found["jobs"])
    durations = yield steps.rows("durations_per_operation", **window)
    waiting, oldest_waiting = yield from waiting_jobs(now)
    holders = yield steps.row("lease_holders", now=now)
    return JobOverview(
        started={int(found["bucket"]): int(found["jobs"]) for found in started},
        ended=ended,
        durations=[OperationDurations(*found) for found in durations],
        waiting=waiting,
        oldest_waiting=oldest_waiting,
        workers=int(holders["workers"]),
        leases=int(holders["leases"]),
    )
