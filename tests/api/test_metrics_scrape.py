"""/metrics after Prometheus conventions: scraped, and checked against what the API did."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from activitylog.client import paths
from tests.api.conftest import create_cache, wait_for_status
from tests.conftest import JOB_PREFIX

pytestmark = pytest.mark.anyio

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def test_requests_and_jobs_as_the_api_saw_them(client: httpx.AsyncClient) -> None:
    job_id = await create_cache(client)
    await wait_for_status(client, job_id)
    before = await scrape(client)

    for _ in range(3):  # answered by the fast path once its answer is cached
        assert (await client.get(f"{JOB_PREFIX}/job/{job_id}")).status_code == 200
    assert (await client.get(f"{JOB_PREFIX}/job/999999")).status_code == 404
    assert (await client.get("/no/such/route")).status_code == 404
    second = await create_cache(client, "Second")
    await wait_for_status(client, second)
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    requests = "activitylog_http_requests_total"
    job = {"route": paths.JOB, "method": "GET"}
    assert delta(requests, **job, status="404") == 1
    # The three GETs, and wait_for_status's polls of the second job: at least one each.
    assert delta(requests, **job, status="200") >= 4
    assert delta(requests, route="unmatched", method="GET", status="404") == 1
    assert delta(requests, route=paths.INSTANCES, method="POST", status="202") == 1
    assert delta(requests, route="/metrics", method="GET", status="200") == 1  # the first scrape

    kind = {"service_type": "caching", "operation_type": "CREATE_SERVICE"}
    assert delta("activitylog_job_starts_total", **kind) == 1
    assert delta("activitylog_job_ends_total", **kind, status="SUCCEED") == 1
    assert delta("activitylog_job_duration_seconds_count", **kind) == 1
    assert delta("activitylog_job_wait_seconds_count", service_type="caching") == 1
    assert value(after, "activitylog_jobs_waiting") == 0
    assert value(after, "activitylog_oldest_waiting_job_age_seconds") == 0
    assert value(after, "activitylog_leases_held") == 0
    # The names dashboards built before these stay.
    assert delta("activitylog_jobs_ended_total", status="SUCCEED") == 1
    assert delta("activitylog_job_run_seconds_count") == 1


async def test_waiting_jobs_and_cancellations(idle_client: httpx.AsyncClient) -> None:
    before = await scrape(idle_client)
    job_id = await create_cache(idle_client)
    waiting = await scrape(idle_client)
    assert value(waiting, "activitylog_jobs_waiting") == 1
    assert value(waiting, "activitylog_oldest_waiting_job_age_seconds") >= 0
    cancelled = await idle_client.post(f"{JOB_PREFIX}/job/{job_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    after = await scrape(idle_client)
    cancellations = "activitylog_job_cancellations_total"
    assert value(after, cancellations) - value(before, cancellations) == 1
    assert value(after, "activitylog_jobs_waiting") == 0
