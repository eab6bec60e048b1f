"""The web console in a real browser (Debian's Chromium, driven by Playwright) against a real
`activitylog serve` on loopback: sign-in, the Activity and Job pages live, Cancel and its
refusals, and an axe-core accessibility check on each page."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.conftest import RunningServer, free_port, stop_process, wait_until_healthy

pytestmark = pytest.mark.e2e
CHROMIUM = "/usr/bin/chromium"  # scripts/test installs it; playwright install cannot download
DOMAIN = "ExampleIdentityDomain"
ADMIN = ("joe@example.com", "joePassword")
OPERATOR = ("otto@example.com", "ottoPassword")
VIEWER = ("vera@example.com", "veraPassword")
ACTIVITY_LOG = f"/paas/api/v1.1/activitylog/{DOMAIN}"
STEPPER = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/stepper/instances"
# A command handler that reports a step and its progress every 0.25 s for about 6 s.
STEPPER_SCRIPT = textwrap.dedent(
    """
    import sys, time
    for step in range(1, 26):
        print(f"Step {step} of 25", flush=True)
        print(f"::progress {step * 4}", flush=True)
        time.sleep(0.25)
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One demo server for the module, with a `stepper` service type, an operator and a
    viewer besides the demo admin."""
    folder = tmp_path_factory.mktemp("console")
    (folder / "stepper.py").write_text(STEPPER_SCRIPT)
    (folder / "activitylog.toml").write_text(
        "[service_types.stepper]\n"
        'handler = "command"\n'
        f'command = ["{sys.executable}", "stepper.py"]\n'
        "[service_types.stepper.operations.CREATE_SERVICE]\n"
    )
    port = free_port()
    log_path = folder / "server.log"
    command = [sys.executable, "-m", "activitylog", "serve", "--port", str(port), "--demo"]
    command += ["--config", str(folder / "activitylog.toml"), "--log-level", "warning"]
    # A command handler is stopped once its cancel grace ends: short here, so that a cancelled
    # job ends well within the test's wait, not when the script would have ended anyway.
    command += ["--cancel-grace", "0.5"]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, cwd=folder, stdout=log_file, stderr=subprocess.STDOUT)
    running = RunningServer(process, port, log_path)
    try:
        wait_until_healthy(running)
        with httpx.Client(base_url=running.url, auth=ADMIN) as admin:
            for name, password in (OPERATOR, VIEWER):
                role = "operator" if name == OPERATOR[0] else "viewer"
                body = {"name": name, "password": password, "role": role}
                assert admin.post(f"{ACTIVITY_LOG}/users", json=body).status_code == 201
        yield running
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, server: RunningServer) -> Iterator[Page]:
    """A fresh browser context (no cookies); fails the test on any Content-Security-Policy
    violation, which an inline script or style would cause."""
    context = browser.new_context(base_url=server.url)
    opened = context.new_page()
    violations: list[str] = []
    opened.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield opened
    context.close()
    assert violations == []


def sign_in(page: Page, user: tuple[str, str]) -> None:
    page.goto("/console/sign-in")
    page.get_by_label("Identity domain").fill(DOMAIN)
    page.get_by_label("User").fill(user[0])
    page.get_by_label("Password").fill(user[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Activity")).to_be_visible()


def assert_accessible(page: Page) -> None:
    results = Axe().run(page)
    serious = [
        f"{violation['id']}: {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]
    assert serious == []


def create_job(server: RunningServer, name: str) -> int:
    with httpx.Client(base_url=server.url, auth=ADMIN) as client:
        answer = client.post(STEPPER, json={"serviceParameters": {"serviceName": name}})
    assert answer.status_code == 202, answer.text
    job_id: int = answer.json()["details"]["jobId"]
    return job_id


def csrf_token(page: Page) -> str:
    return page.locator("input[name=csrf_token]").first.get_attribute("value") or ""


def test_sign_in_and_out_and_a_signed_out_session_reaches_nothing(
    page: Page, server: RunningServer
) -> None:
    page.goto("/console/activity")
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))
    assert_accessible(page)
    page.get_by_label("Identity domain").fill(DOMAIN)
    page.get_by_label("User").fill(ADMIN[0])
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not right")

    sign_in(page, ADMIN)
    cookie = {c["name"]: c["value"] for c in page.context.cookies()}["activitylog_console"]
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/console/sign-in$"))

    job_id = create_job(server, "signed-out")
    paths = ["/console/activity", "/console/activity/live", f"/console/jobs/{job_id}"]
    paths += [f"/console/jobs/{job_id}/live", f"/console/jobs/{job_id}/events", "/console/events"]
    with httpx.Client(base_url=server.url, cookies={"activitylog_console": cookie}) as client:
        for path in paths:
            answer = client.get(path)
            assert answer.status_code in (303, 403), path
            assert "text/event-stream" not in answer.headers.get("content-type", "")


def test_filters_live_in_the_url_and_new_jobs_appear_without_a_reload(
    page: Page, server: RunningServer
) -> None:
    sign_in(page, ADMIN)
    assert_accessible(page)
    page.get_by_label("RUNNING").check()
    page.get_by_label("Operation type").select_option("CREATE_SERVICE")
    page.get_by_label("Service name").fill("no-such-service")
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"status=RUNNING.*operationType=CREATE_SERVICE"))
    assert "serviceName=no-such-service" in page.url
    expect(page.get_by_text("No jobs match these filters")).to_be_visible()

    page.goto(page.url)  # a shared link opens the same filters
    expect(page.get_by_label("RUNNING")).to_be_checked()
    expect(page.get_by_label("NEW")).not_to_be_checked()
    expect(page.get_by_label("Operation type")).to_have_value("CREATE_SERVICE")
    expect(page.get_by_label("Service name")).to_have_value("no-such-service")

    page.goto("/console/activity")
    page.wait_for_load_state("networkidle")  # the page's event stream is open
    started = time.monotonic()
    job_id = create_job(server, "appears-live")
    expect(page.locator(f"#job-{job_id}")).to_be_visible(timeout=1000)
    assert time.monotonic() - started < 1.5  # the POST's own time included
    expect(page.get_by_role("heading", name="Activity")).to_be_visible()


def test_a_job_page_follows_the_handler_and_an_operator_cancels(
    page: Page, server: RunningServer
) -> None:
    job_id = create_job(server, "followed")
    sign_in(page, OPERATOR)
    page.goto(f"/console/jobs/{job_id}")
    messages = page.locator("#job-messages li")
    progress = page.locator("#job-progress")
    expect(messages.first).to_be_visible()
    seen_messages = messages.count()
    seen_progress = int(progress.get_attribute("value") or 0)
    page.wait_for_function(
        "([count, percent]) => document.querySelectorAll('#job-messages li').length > count"
        " && Number(document.querySelector('#job-progress').value) > percent",
        arg=[seen_messages, seen_progress],
        timeout=3000,
    )
    assert_accessible(page)

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Cancel job").click()
    expect(page.locator("#job-status")).to_have_text("FAILED", timeout=5000)
    expect(page.locator("#cancelled-by")).to_contain_text(OPERATOR[0])
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)


def test_a_viewer_sees_no_cancel_and_a_forged_cancel_is_refused(
    page: Page, server: RunningServer
) -> None:
    job_id = create_job(server, "viewed")
    sign_in(page, VIEWER)
    page.goto(f"/console/jobs/{job_id}")
    expect(page.locator("#job-messages li").first).to_be_visible()
    expect(page.get_by_role("button", name="Cancel job")).to_have_count(0)
    forged = page.request.post(
        f"/console/jobs/{job_id}/cancel", form={"csrf_token": csrf_token(page)}
    )
    assert forged.status == 403
    assert job_status(server, job_id) in ("NEW", "RUNNING", "SUCCEED")


def test_a_cancel_without_the_csrf_token_is_refused(page: Page, server: RunningServer) -> None:
    job_id = create_job(server, "unforged")
    sign_in(page, OPERATOR)
    page.goto(f"/console/jobs/{job_id}")
    expect(page.get_by_role("button", name="Cancel job")).to_be_visible()
    forms: list[dict[str, str | float | bool]] = [{}, {"csrf_token": "guessed"}]
    for form in forms:
        refused = page.request.post(f"/console/jobs/{job_id}/cancel", form=form)
        assert refused.status == 403
    assert job_status(server, job_id) in ("NEW", "RUNNING", "SUCCEED")


def job_status(server: RunningServer, job_id: int) -> Any:
    with httpx.Client(base_url=server.url, auth=ADMIN) as client:
        return client.get(f"{ACTIVITY_LOG}/job/{job_id}").json()["status"]
