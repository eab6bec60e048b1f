"""/metrics: Prometheus text, counting the jobs this process ran."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.api.conftest import create_cache, wait_for_status

pytestmark = pytest.mark.anyio


def counter(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, flags=re.MULTILINE)
    return float(match.group(1)) if match else 0.0


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
    assert counter(after, claimed) == counter(before, claimed) + 1
    assert counter(after, ended) == counter(before, ended) + 1
