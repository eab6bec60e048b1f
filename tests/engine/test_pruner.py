"""The pruner `serve` and `worker` run: batches until one is not full, counted in /metrics."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from activitylog.domain.jobs import JobStatus
from activitylog.domain.retention import RetentionPolicy, older_than
from activitylog.engine.pruner import prune_forever, prune_pass
from activitylog.store.base import open_store
from tests.contract.conftest import DOMAIN, operation

pytestmark = pytest.mark.anyio


def _pruned_jobs() -> float:
    return REGISTRY.get_sample_value("activitylog_pruned_total", {"kind": "jobs"}) or 0.0


async def test_a_pass_prunes_in_batches_until_done(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "a.db"))
    await store.open()
    try:
        domain = await store.create_domain(DOMAIN)
        for n in range(5):
            await store.submit_operation(operation(domain, f"c{n}"))
            (claimed,) = await store.claim_jobs("pruner-test", 30, 1)
            await store.finish_job(claimed, JobStatus.SUCCEED, [])
        await asyncio.sleep(0.01)
        before = _pruned_jobs()
        total = await prune_pass(store, older_than(1), batch_size=2)
        assert total.jobs == 5
        assert _pruned_jobs() - before == 5
    finally:
        await store.close()


async def test_off_means_no_task_at_all(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "a.db"))
    # Returns at once, without touching the (unopened) store.
    await asyncio.wait_for(
        prune_forever(store, RetentionPolicy(days=0), interval=1, batch_size=1), 1
    )
