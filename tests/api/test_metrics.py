"""/metrics: Prometheus text, counting the jobs this process ran."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import create_cache, wait_for_status
from tests.conftest import metric_value

pytestmark = pytest.mark.anyio


async def test_metrics_count_claimed_and_ended_jobs(client: httpx.AsyncClient) -> None:
    before = (await client.get("/metrics")).text
    job_id = await create_cache(client, "Counted")
    await wait_for_status(client, job_id, "SUCCEED")
    answer = await client.get("/metrics", headers={"Authorization": ""})

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    after = answer.text
    claimed = "activitylog_jobs_claimed_total"
    ended = 'activitylog_jobs_ended_total{status="SUCCEED"}'
    assert metric_value(after, claimed) == metric_value(before, claimed) + 1
    assert metric_value(after, ended) == metric_value(before, ended) + 1
