"""The web console in a real browser (Debian's Chromium, driven by Playwright) against a real
`activitylog serve` on loopback: sign-in, the Activity and Job pages live, Cancel and its
refusals, and an axe-core accessibility check on each page."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import RunningServer
from tests.e2e.console.conftest import (
    ADMIN,
    DOMAIN,
    OPERATOR,
    VIEWER,
    assert_accessible,
    create_job,
    csrf_token,
    job_status,
    sign_in,
)

pytestmark = pytest.mark.e2e


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


AT_BOTTOM = "(list) => list.scrollHeight - list.scrollTop - list.clientHeight < 8"


def test_the_timeline_follows_until_the_reader_scrolls_up_and_steps_are_drawn(
    page: Page, server: RunningServer
) -> None:
    job_id = create_job(server, "tailed")
    sign_in(page, VIEWER)
    page.goto(f"/console/jobs/{job_id}")
    timeline = page.locator("#job-messages")
    page.wait_for_function(
        "() => { const l = document.querySelector('#job-messages');"
        " return l.scrollHeight > l.clientHeight + 40; }",
        timeout=5000,
    )
    assert timeline.evaluate(AT_BOTTOM)  # following the newest message

    # In one evaluation: a locator's element may be replaced between finding and scrolling it.
    page.evaluate("() => { document.querySelector('#job-messages').scrollTop = 0; }")
    count = page.locator("#job-messages li").count()
    page.wait_for_function(
        "(count) => document.querySelectorAll('#job-messages li').length > count + 1",
        arg=count,
        timeout=3000,
    )
    kept = page.evaluate("() => document.querySelector('#job-messages').scrollTop")
    assert kept == 0  # the reader's place is kept
    follow = page.get_by_role("button", name="follow the latest")
    expect(follow).to_be_visible()
    follow.press("Enter")
    expect(follow).to_be_hidden()
    assert timeline.evaluate(AT_BOTTOM)

    bars = page.locator("#job-steps li")
    expect(bars.first).to_be_visible()
    assert bars.count() >= 2
    widths = [
        int(w)
        for w in page.locator("#job-steps rect").evaluate_all(
            "(rects) => rects.map((r) => r.getAttribute('width'))"
        )
    ]
    assert all(0 < width <= 1000 for width in widths)
    assert_accessible(page)


def test_by_keyboard_alone_sign_in_open_a_job_and_keep_focus_through_live_updates(
    page: Page, server: RunningServer
) -> None:
    first = create_job(server, "keyboard-first")
    page.goto("/console/sign-in")
    page.keyboard.press("Tab")  # the skip link comes first
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to content"
    page.locator("#domain").focus()
    page.keyboard.type(DOMAIN)
    page.keyboard.press("Tab")
    page.keyboard.type(OPERATOR[0])
    page.keyboard.press("Tab")
    page.keyboard.type(OPERATOR[1])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Activity")).to_be_visible()

    link = page.locator(f"#job-link-{first}")
    for _ in range(60):  # Tab from the top until the job's link has the focus
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.id") == f"job-link-{first}":
            break
    expect(link).to_be_focused()
    second = create_job(server, "keyboard-second")  # the list is fetched again, live
    expect(page.locator(f"#job-{second}")).to_be_visible(timeout=2000)
    expect(link).to_be_focused()  # and the reader's place is kept

    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/console/jobs/{first}$"))
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#cancel-job").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#job-status")).to_have_text("FAILED", timeout=5000)
