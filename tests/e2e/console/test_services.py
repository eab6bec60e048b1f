"""The Services page in a real browser: an operator creates a `stepper` instance from the form
built from its declared parameters and lands on the job; the page lists the instance with its
last operation, and follows the domain's stream; a viewer gets no controls; axe-core, and
375 px wide."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import RunningServer
from tests.e2e.console.conftest import (
    ADMIN,
    OPERATOR,
    STEPPER,
    VIEWER,
    assert_accessible,
    create_job,
    nav_link,
    sign_in,
)

pytestmark = pytest.mark.e2e


def stepper_row(page: Page, name: str) -> Locator:
    return page.locator(f'section[aria-labelledby="type-stepper"] tr[data-name="{name}"]')


def create_form(page: Page) -> Locator:
    """The stepper's create form, opened (it starts closed once the type has instances)."""
    details = page.locator("#create-stepper")
    if details.get_attribute("open") is None:
        details.get_by_text("Create a stepper instance").click()
    return details


def ensure_instance(server: RunningServer, name: str) -> None:
    """Create the stepper instance through the API unless an earlier test did."""
    with httpx.Client(base_url=server.url, auth=ADMIN) as client:
        exists = client.get(f"{STEPPER}/{name}").status_code == 200
    if not exists:
        create_job(server, name)


def test_an_operator_creates_from_the_form_and_lands_on_its_job(
    page: Page, server: RunningServer
) -> None:
    sign_in(page, OPERATOR)
    nav_link(page, "Services").click()
    expect(page.get_by_role("heading", name="Services", exact=True)).to_be_visible()
    create = create_form(page)
    create.get_by_label("Name").fill("FromForm")
    size = create.get_by_label("size")
    expect(size).to_have_attribute("max", "8")
    size.fill("3")
    create.get_by_role("button", name="Create").click()

    expect(page).to_have_url(re.compile(r"/console/jobs/\d+$"))
    job_id = page.url.rsplit("/", 1)[1]
    heading = page.get_by_role("heading", name=re.compile("CREATE_SERVICE of FromForm"))
    expect(heading).to_be_visible()
    with httpx.Client(base_url=server.url, auth=ADMIN) as client:
        instance = client.get(f"{STEPPER}/FromForm").json()
    assert instance["serviceName"] == "FromForm"

    page.goto("/console/services")
    row = stepper_row(page, "FromForm")
    expect(row).to_contain_text("size: 3")
    last = row.get_by_role("link", name=re.compile(f"CREATE_SERVICE · job {job_id}"))
    expect(last).to_have_attribute("href", f"/console/jobs/{job_id}")
    assert_accessible(page)


def test_refused_parameters_show_the_apis_message_and_keep_the_form(
    page: Page, server: RunningServer
) -> None:
    ensure_instance(server, "Taken")
    sign_in(page, OPERATOR)
    page.goto("/console/services")
    create = create_form(page)
    create.get_by_label("Name").fill("Taken")
    create.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert")).to_contain_text("already exists")
    expect(page.get_by_role("alert")).to_contain_text("Choose another name")
    expect(page.locator("#create-stepper").get_by_label("Name")).to_have_value("Taken")
    assert_accessible(page)


def test_the_page_follows_the_domains_stream(page: Page, server: RunningServer) -> None:
    sign_in(page, OPERATOR)
    page.goto("/console/services")
    expect(page.locator("#services-live")).to_be_visible()
    page.wait_for_timeout(300)  # the EventSource connects
    job_id = create_job(server, "ThroughTheApi")
    row = stepper_row(page, "ThroughTheApi")
    expect(row).to_be_visible(timeout=3000)
    expect(row.get_by_role("link", name=re.compile(f"job {job_id}"))).to_be_visible()


def test_a_viewer_sees_the_instances_and_no_controls(page: Page, server: RunningServer) -> None:
    ensure_instance(server, "Seen")
    sign_in(page, VIEWER)
    page.goto("/console/services")
    expect(stepper_row(page, "Seen")).to_be_visible()
    assert page.locator("main form").count() == 0
    assert page.locator("main button").count() == 0
    assert_accessible(page)


def test_the_page_fits_375_px(page: Page, server: RunningServer) -> None:
    ensure_instance(server, "Narrow-instance-with-a-long-name")
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, OPERATOR)
    page.goto("/console/services")
    row = stepper_row(page, "Narrow-instance-with-a-long-name")
    # Its controls come once its create has ended, which the page learns from the stream.
    expect(row).to_have_attribute("data-state", "running", timeout=15_000)
    expect(row.get_by_role("button", name=re.compile("^Scale"))).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert_accessible(page)
