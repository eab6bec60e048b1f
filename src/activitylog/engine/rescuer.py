"""The rescuer: jobs whose worker was lost (its lease expired) go back to NEW or end FAILED.

Every worker runs one. On SQLite any of them may rescue (each rescue is one write
transaction); on PostgreSQL the store lets only the process holding the rescuer's advisory
lock do it, and another takes over when that process dies.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence

import structlog

from activitylog import errors, metrics
from activitylog.store.base import Store

log = structlog.get_logger("activitylog.rescuer")


def no_live_leases() -> Sequence[str]:
    return ()


async def rescue_forever(
    store: Store,
    interval: float,
    live_leases: Callable[[], Sequence[str]] = no_live_leases,
) -> None:
    """Rescue now, then every ``interval`` seconds, until cancelled.

    A lease that expires at T is therefore rescued by T + ``interval``; but never one of
    ``live_leases()``, the leases this process's worker still holds: when the database
    comes back after refusing writes for longer than a lease, those jobs' ends are on their
    way, and are not lost.
    """
    while True:
        await rescue_once(store, live_leases())
        await asyncio.sleep(interval)


async def rescue_once(store: Store, live_leases: Sequence[str] = ()) -> None:
    try:
        rescued = await store.rescue_expired_jobs(live_leases)
    except errors.StoreUnavailable as exc:
        log.warning("cannot rescue jobs", error=str(exc))
        return
    except Exception:
        # Whatever went wrong, the next round tries again: a rescuer that stopped for good
        # would leave every lost job RUNNING forever.
        log.exception("rescue failed")
        return
    for job in rescued:
        log.warning("job rescued: its worker's lease expired", job_id=job.job_id, now=job.status)
        metrics.JOBS_RESCUED.labels(status=job.status).inc()
        if job.status == "NEW":
            metrics.JOB_RETRIES.inc()
