"""Retention's transactions, written once for both dialects: one prune batch, and the count
of what a prune would remove (`activitylog prune --dry-run`).

A batch removes at most ``limit`` rows of jobs, keys and audit events together, so that it
holds SQLite's single writer (or PostgreSQL's row locks) only briefly; the caller runs batches
until one is not full. On PostgreSQL a batch first takes a transaction-level advisory lock and
removes nothing when another process holds it: one process prunes at a time. Deleted jobs are
counted out of job_counts by its triggers in the same transaction, so the kept counts
(``totalCount``, the status counts) stay exact.
"""

from __future__ import annotations

from activitylog.domain.retention import RetentionPolicy
from activitylog.store import steps
from activitylog.store.records import PrunableJobs, PruneCount
from activitylog.store.steps import Transaction


def prune(
    policy: RetentionPolicy, now: int, limit: int, domain: str | None = None
) -> Transaction[PruneCount]:
    if not (yield steps.value("try_prune_lock")):
        return PruneCount(skipped=True)
    left = limit
    jobs = messages = 0
    for found in (yield steps.rows("retention_classes")):
        if left == 0:
            break
        cutoff = _cutoff(policy, found["domain_name"], found["service_type"], now, domain)
        if cutoff is None:
            continue
        pruned = yield steps.rows(
            "prunable_jobs",
            domain_id=found["domain_id"],
            service_type=found["service_type"],
            cutoff=cutoff,
            limit=left,
        )
        if pruned:
            yield from _delete_jobs([job["job_id"] for job in pruned])
            jobs += len(pruned)
            messages += sum(job["message_count"] for job in pruned)
            left -= len(pruned)
    keys, events, left = yield from _prune_domain_rows(policy, now, left, domain)
    return PruneCount(jobs, messages, keys, events, more=left == 0)


def _delete_jobs(job_ids: list[int]) -> Transaction[None]:
    # Their rows that refer to them first: PostgreSQL checks the foreign keys.
    yield steps.execute("delete_messages_of_jobs", job_ids=job_ids)
    yield steps.execute("delete_idempotency_keys_of_jobs", job_ids=job_ids)
    yield steps.execute("delete_jobs", job_ids=job_ids)


def _prune_domain_rows(
    policy: RetentionPolicy, now: int, left: int, domain: str | None
) -> Transaction[tuple[int, int, int]]:
    """Idempotency keys and audit events older than their domain's retention."""
    keys = events = 0
    for found in (yield steps.rows("retention_domains")):
        cutoff = _cutoff(policy, found["domain_name"], None, now, domain)
        if left == 0 or cutoff is None:
            continue
        for query in ("prune_idempotency_keys", "prune_audit_events"):
            removed = len(
                (yield steps.rows(query, domain_id=found["domain_id"], cutoff=cutoff, limit=left))
            )
            left -= removed
            if query == "prune_idempotency_keys":
                keys += removed
            else:
                events += removed
            if left == 0:
                break
    return keys, events, left


def count_prunable(
    policy: RetentionPolicy, now: int, domain: str | None = None
) -> Transaction[list[PrunableJobs]]:
    counted = []
    for found in (yield steps.rows("retention_classes")):
        cutoff = _cutoff(policy, found["domain_name"], found["service_type"], now, domain)
        if cutoff is None:
            continue
        jobs, messages = yield steps.row(
            "count_prunable_jobs",
            domain_id=found["domain_id"],
            service_type=found["service_type"],
            cutoff=cutoff,
        )
        if jobs:
            counted.append(
                PrunableJobs(found["domain_name"], found["service_type"], jobs, int(messages))
            )
    return counted


def _cutoff(
    policy: RetentionPolicy, domain_name: str, service_type: str | None, now: int, only: str | None
) -> int | None:
    if only is not None and domain_name != only:
        return None
    return policy.cutoff_ms(domain_name, service_type, now)


def applied_migrations() -> Transaction[list[int]]:
    return [int(row["version"]) for row in (yield steps.rows("applied_migrations"))]


def waiting_jobs(now: int) -> Transaction[tuple[int, int | None]]:
    found = yield steps.row("waiting_jobs", now=now)
    return int(found[0]), None if found[1] is None else int(found[1])
