"""The pruner: `serve` and `worker` remove, a little at a time, what the retention lets go.

A pass runs batches (one short transaction each, store/retention_transactions.py) until one is
not full, pausing between them so that requests and claims get the database in between. On
PostgreSQL only one process prunes at a time: the others' batches come back ``skipped``.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from activitylog import errors, metrics
from activitylog.domain.retention import RetentionPolicy
from activitylog.store.base import Store
from activitylog.store.records import PruneCount

log = structlog.get_logger("activitylog.pruner")

PAUSE_BETWEEN_BATCHES = 0.05
"""Seconds between two batches of a pass: the writer is free for others most of the time."""


async def prune_forever(
    store: Store, policy: RetentionPolicy, *, interval: float, batch_size: int
) -> None:
    """Prune a pass, then every ``interval`` seconds, until cancelled."""
    if policy.prunes_nothing or interval <= 0:
        return
    while True:
        await prune_pass(store, policy, batch_size)
        await asyncio.sleep(interval)


async def prune_pass(store: Store, policy: RetentionPolicy, batch_size: int) -> PruneCount:
    """Batches until one is not full; what they removed in all. Errors are logged: the next
    pass tries again."""
    total = PruneCount()
    metrics.PRUNE_RUNNING.set(1)
    try:
        while True:
            batch = await _one_batch(store, policy, batch_size)
            if batch is None or batch.skipped:
                break
            total = _added(total, batch)
            if not batch.more:
                break
            await asyncio.sleep(PAUSE_BETWEEN_BATCHES)
    finally:
        metrics.PRUNE_RUNNING.set(0)
        metrics.PRUNE_LAST_PASS.set(time.time())
    if total.jobs or total.idempotency_keys or total.audit_events:
        log.info(
            "pruned",
            jobs=total.jobs,
            messages=total.messages,
            idempotency_keys=total.idempotency_keys,
            audit_events=total.audit_events,
        )
    return total


async def _one_batch(store: Store, policy: RetentionPolicy, batch_size: int) -> PruneCount | None:
    try:
        batch = await store.prune_ended_jobs(policy, limit=batch_size)
    except errors.StoreUnavailable as exc:
        log.warning("cannot prune", error=str(exc))
        metrics.PRUNE_BATCHES.labels(outcome="failed").inc()
        return None
    except Exception:
        # Whatever went wrong, the next pass tries again.
        log.exception("prune failed")
        metrics.PRUNE_BATCHES.labels(outcome="failed").inc()
        return None
    metrics.PRUNE_BATCHES.labels(outcome="skipped" if batch.skipped else "pruned").inc()
    for kind in ("jobs", "messages", "idempotency_keys", "audit_events"):
        metrics.PRUNED.labels(kind=kind).inc(getattr(batch, kind))
    return batch


def _added(total: PruneCount, batch: PruneCount) -> PruneCount:
    return PruneCount(
        total.jobs + batch.jobs,
        total.messages + batch.messages,
        total.idempotency_keys + batch.idempotency_keys,
        total.audit_events + batch.audit_events,
    )
