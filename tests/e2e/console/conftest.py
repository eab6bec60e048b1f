"""What the console's browser tests share: a real `activitylog serve --demo` with a `stepper`
service type, an operator and a viewer; Debian's Chromium through Playwright; signing in; the
axe-core check. Each test module gets its own server (the fixtures are module-scoped), so one
module's users and jobs do not show in another's pages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from tests.e2e.conftest import RunningServer, free_port, stop_process, wait_until_healthy

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
        # More operations and a declared parameter, for the Services page (test_services.py).
        "[service_types.stepper.operations.STOP_SERVICE]\n"
        "[service_types.stepper.operations.RESTART_SERVICE]\n"
        "[service_types.stepper.operations.SCALE_SERVICE]\n"
        "[service_types.stepper.operations.DELETE_SERVICE]\n"
        "[service_types.stepper.parameters.size]\n"
        'type = "integer"\n'
        "minimum = 1\n"
        "maximum = 8\n"
        'description = "Nodes, 1 to 8."\n'
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


def job_status(server: RunningServer, job_id: int) -> Any:
    with httpx.Client(base_url=server.url, auth=ADMIN) as client:
        return client.get(f"{ACTIVITY_LOG}/job/{job_id}").json()["status"]


def nav_link(page: Page, name: str) -> Locator:
    """A link of the console's navigation bar (a page's text may link to the same place)."""
    return page.get_by_role("navigation", name="Console").get_by_role("link", name=name, exact=True)
