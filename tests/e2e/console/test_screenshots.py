"""Every console page at 1280 px and at 375 px wide, from a seeded demo: each fits its width
(no sideways scrolling) and weighs under 200 KB, and its screenshot is taken.

The screenshots land in a temporary folder; `ACTIVITYLOG_SCREENSHOTS=docs/images scripts/test
tests/e2e/console/test_screenshots.py` writes them where docs/console.md and the README show
them, which is how the committed ones were made.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import RunningServer
from tests.e2e.console.conftest import ACTIVITY_LOG, ADMIN, STEPPER, create_job, sign_in

pytestmark = pytest.mark.e2e
WIDTHS = {"wide": 1280, "narrow": 375}


@pytest.fixture(scope="module")
def demo(server: RunningServer) -> dict[str, int]:
    """Jobs in each state: two that succeeded, one cancelled, one running."""
    with httpx.Client(base_url=server.url, auth=ADMIN) as client:

        def create(name: str) -> int:
            answer = client.post(STEPPER, json={"serviceParameters": {"serviceName": name}})
            assert answer.status_code == 202, answer.text
            job_id: int = answer.json()["details"]["jobId"]
            return job_id

        succeeded = [create(name) for name in ("orders-cache", "sessions-cache")]
        cancelled = create("batch-7")
        time.sleep(1.0)  # a few steps, then the cancel
        assert client.post(f"{ACTIVITY_LOG}/job/{cancelled}/cancel").status_code == 202
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            statuses = {client.get(f"{ACTIVITY_LOG}/job/{j}").json()["status"] for j in succeeded}
            if statuses == {"SUCCEED"}:
                break
            time.sleep(0.2)
    return {"cancelled": cancelled, "succeeded": succeeded[0]}


def page_paths(server: RunningServer, demo: dict[str, int], width: str) -> dict[str, str]:
    """The pages, with a job started now so that it is still running when photographed."""
    running = create_job(server, f"nightly-report-{width}")
    time.sleep(1.5)  # a few steps to show
    return {
        "job": f"/console/jobs/{running}",
        "activity": "/console/activity",
        "job-cancelled": f"/console/jobs/{demo['cancelled']}",
        "job-succeeded": f"/console/jobs/{demo['succeeded']}",
        "services": "/console/services",
        "overview": "/console/overview?window=1h",
        "users": "/console/users",
    }


@pytest.fixture
def signed_in(browser: Browser, server: RunningServer) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url)
    opened = context.new_page()
    sign_in(opened, ADMIN)
    yield opened
    context.close()


def screenshots_folder(tmp_path: Path) -> Path:
    chosen = os.environ.get("ACTIVITYLOG_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_its_width_and_is_photographed(
    signed_in: Page, server: RunningServer, demo: dict[str, int], width: str, tmp_path: Path
) -> None:
    folder = screenshots_folder(tmp_path)
    signed_in.set_viewport_size({"width": WIDTHS[width], "height": 900 if width == "wide" else 812})
    for name, path in page_paths(server, demo, width).items():
        answer = signed_in.goto(path)
        assert answer is not None
        assert answer.status == 200, path
        assert len(answer.body()) < 200_000, path
        expect(signed_in.locator("h1")).to_be_visible()
        signed_in.wait_for_load_state("load")
        overflow = signed_in.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{path} scrolls sideways by {overflow} px at {width}"
        shot = folder / f"console-{name}-{width}.png"
        signed_in.screenshot(path=str(shot))
        assert shot.stat().st_size > 10_000


@pytest.mark.parametrize("width", WIDTHS)
def test_the_sign_in_page_fits_its_width_and_is_photographed(
    browser: Browser, server: RunningServer, width: str, tmp_path: Path
) -> None:
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    page.set_viewport_size({"width": WIDTHS[width], "height": 900 if width == "wide" else 812})
    answer = page.goto("/console/sign-in")
    assert answer is not None
    assert answer.status == 200
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    page.screenshot(path=str(screenshots_folder(tmp_path) / f"console-sign-in-{width}.png"))
    context.close()


def test_dark_when_the_system_is_dark(
    browser: Browser, server: RunningServer, tmp_path: Path
) -> None:
    context = browser.new_context(base_url=server.url, color_scheme="dark")
    page = context.new_page()
    sign_in(page, ADMIN)
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    channels = [int(part) for part in background.strip("rgba() ").split(",")[:3]]
    assert max(channels) < 60, background
    page.set_viewport_size({"width": 1280, "height": 900})
    page.screenshot(path=str(screenshots_folder(tmp_path) / "console-activity-dark.png"))
    context.close()
