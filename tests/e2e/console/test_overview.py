"""The Overview page in a real browser against a real `activitylog serve`: its numbers are
the API's search totals and /metrics' gauges, its charts draw under the page's strict
Content-Security-Policy, it follows the domain's stream, and it passes axe at 1280 and 375 px."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import metric_value
from tests.e2e.conftest import RunningServer
from tests.e2e.console.conftest import (
    ACTIVITY_LOG,
    ADMIN,
    assert_accessible,
    create_job,
    job_status,
    nav_link,
    sign_in,
)

pytestmark = pytest.mark.e2e

ENDED = ("SUCCEED", "WARN", "FAILED")


def api_total(client: httpx.Client, **filters: str) -> int:
    answer = client.get(f"{ACTIVITY_LOG}/filter", params={"limit": "1", **filters})
    assert answer.status_code == 200, answer.text
    total: int = answer.json()["totalCount"]
    return total


def wait_for(condition: Any, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition never came true"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def ended_jobs(server: RunningServer) -> list[int]:
    """Three jobs through the API, one of them cancelled (FAILED), all ended."""
    ids = [create_job(server, f"overview-{n}") for n in range(3)]
    with httpx.Client(base_url=server.url, auth=ADMIN) as client:
        wait_for(lambda: job_status(server, ids[0]) == "RUNNING")
        answer = client.post(f"{ACTIVITY_LOG}/job/{ids[0]}/cancel")
        assert answer.status_code < 300, answer.text
    wait_for(lambda: all(job_status(server, job_id) in ENDED for job_id in ids))
    return ids


def test_the_numbers_are_the_apis_and_the_charts_draw(
    page: Page, server: RunningServer, ended_jobs: list[int]
) -> None:
    with httpx.Client(base_url=server.url, auth=ADMIN) as client:
        total = api_total(client)
        by_status = {status: api_total(client, status=status) for status in ENDED}
    ended = sum(by_status.values())
    assert by_status["FAILED"] >= 1
    sign_in(page, ADMIN)
    nav_link(page, "Overview").click()
    expect(page.get_by_role("heading", name="Overview", exact=True)).to_be_visible()
    expect(page.locator("#started-total")).to_have_text(str(total))
    expect(page.locator("#ended-total")).to_have_text(str(ended))
    for status, jobs in by_status.items():
        expect(page.locator(f"#ended-{status.lower()}")).to_have_text(str(jobs))
    rate = round(100 * by_status["FAILED"] / ended, 1)
    expect(page.locator("#failure-rate")).to_have_text(f"{rate} %")
    expect(page.locator("#durations tbody tr")).to_have_count(1)  # all CREATE_SERVICE
    expect(page.locator("#durations tbody td").nth(1)).to_have_text(str(ended))
    # Three charts, each a uPlot canvas of the width of its box.
    expect(page.locator("[data-chart] canvas")).to_have_count(3)
    box = page.locator("[data-chart=throughput]").bounding_box()
    canvas = page.locator("[data-chart=throughput] canvas").bounding_box()
    assert box is not None
    assert canvas is not None
    assert canvas["width"] > 0.9 * box["width"]
    assert_accessible(page)

    page.get_by_role("link", name="24 h").click()
    expect(page).to_have_url(re.compile(r"window=24h$"))
    expect(page.locator("#started-total")).to_have_text(str(total))
    expect(page.locator("#failure-rate")).to_have_text(f"{rate} %")
    expect(page.locator("[data-chart] canvas")).to_have_count(3)


def test_waiting_jobs_and_leases_are_what_metrics_says(
    page: Page, server: RunningServer, ended_jobs: list[int]
) -> None:
    sign_in(page, ADMIN)
    page.goto("/console/overview")
    before = int(page.locator("#started-total").inner_text())
    # The open page follows the domain's stream: a new job shows without a reload, and once
    # it runs, the one process's worker holds its lease.
    job_id = create_job(server, "overview-live")
    expect(page.locator("#started-total")).to_have_text(str(before + 1), timeout=10_000)
    # ... and the charts are drawn again from the new part's series.
    expect(page.locator("[data-chart] canvas")).to_have_count(3)
    series = json.loads(page.locator(".overview-data").get_attribute("data-series") or "{}")
    assert sum(series["started"]) == before + 1
    wait_for(lambda: job_status(server, job_id) == "RUNNING")
    page.reload()
    metrics = httpx.get(f"{server.url}/metrics").text
    expect(page.locator("#leases")).to_have_text(
        str(int(metric_value(metrics, "activitylog_leases_held")))
    )
    expect(page.locator("#leases")).to_have_text("1")
    expect(page.locator("#workers")).to_have_text("1")
    expect(page.locator("#waiting")).to_have_text(
        str(int(metric_value(metrics, "activitylog_jobs_waiting")))
    )


def test_at_375_px_nothing_is_wider_than_the_screen(
    page: Page, server: RunningServer, ended_jobs: list[int]
) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, ADMIN)
    page.goto("/console/overview?window=7d")
    expect(page.locator("[data-chart] canvas")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert_accessible(page)


def test_an_unknown_window_says_which_it_shows(page: Page, server: RunningServer) -> None:
    sign_in(page, ADMIN)
    page.goto("/console/overview?window=1y")
    expect(page.get_by_role("alert")).to_contain_text("1 h")
    expect(page.get_by_role("link", name="1 h")).to_have_attribute("aria-current", "page")
