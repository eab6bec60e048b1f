"""The console's answers over HTTP, in process: security headers on pages, year-long caching
of the versioned static files, sign-in through the API's failure limits, CSRF on sign-in."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.applications import Starlette

from activitylog.console.job import MAX_MESSAGES
from activitylog.console.job_steps import MAX_STEPS
from activitylog.console.rendering import CONTENT_SECURITY_POLICY
from activitylog.console.static_files import asset_url
from tests.conftest import DOMAIN, PASSWORD, USER, add_tenant, claim_next_job

pytestmark = pytest.mark.anyio


@pytest.fixture
async def browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials but its cookies, as a browser is."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def sign_in(
    browser: httpx.AsyncClient, password: str = PASSWORD, user: str = USER
) -> httpx.Response:
    form = (await browser.get("/console/sign-in")).text
    fields = {"csrf_token": csrf_token(form), "domain": DOMAIN, "user": user, "password": password}
    return await browser.post("/console/sign-in", data=fields)


def csrf_token(page: str) -> str:
    """The first CSRF token in a page's forms."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    return match[1]


async def test_pages_carry_a_strict_policy_and_are_not_stored(
    browser: httpx.AsyncClient,
) -> None:
    assert (await sign_in(browser)).status_code == 303
    page = await browser.get("/console/activity")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<style" not in page.text
    assert "style=" not in page.text
    assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None  # no inline script
    assert len(page.content) < 200_000


async def test_the_session_cookie_is_http_only_and_same_site_strict(
    browser: httpx.AsyncClient,
) -> None:
    answer = await sign_in(browser)
    cookie = answer.headers["set-cookie"].lower()
    assert "activitylog_console=" in cookie
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/console" in cookie


async def test_static_files_are_cached_a_year_under_their_digest(
    browser: httpx.AsyncClient,
) -> None:
    url = asset_url("vendor/htmx.min.js")
    answer = await browser.get(url)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.headers["content-type"].startswith("text/javascript")
    stale = url.replace(url.split("/")[3], "000000000000")
    assert (await browser.get(stale)).status_code == 404
    assert (await browser.get(url.replace("htmx.min.js", "LICENSE.htmx.org"))).status_code == 404


async def test_a_sign_in_without_the_forms_token_is_refused(browser: httpx.AsyncClient) -> None:
    await browser.get("/console/sign-in")
    fields = {"domain": DOMAIN, "user": USER, "password": PASSWORD}
    assert (await browser.post("/console/sign-in", data=fields)).status_code == 403
    fields["csrf_token"] = "guessed"
    assert (await browser.post("/console/sign-in", data=fields)).status_code == 403


async def test_failed_sign_ins_count_against_the_apis_limits(
    make_app: Callable[..., Starlette],
) -> None:
    app = make_app(auth_max_failures_per_user=2)
    async with app.router.lifespan_context(app):
        await add_tenant(app.state.context.store)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            answers = [(await sign_in(http, "wrong password")).status_code for _ in range(3)]
            assert answers == [401, 401, 429]  # the same limits as failed Basic authentication
            limited = await http.get(
                f"/paas/api/v1.1/activitylog/{DOMAIN}/job/1", auth=(USER, "wrong password")
            )
            assert limited.status_code == 429


async def test_a_job_that_wrote_thousands_of_messages_still_has_a_small_page(
    make_app: Callable[..., Starlette],
) -> None:
    app = make_app(run_worker=False)
    async with app.router.lifespan_context(app):
        store = app.state.context.store
        await add_tenant(store)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            submitted = await http.post(
                f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/caching/instances",
                json={"serviceParameters": {"serviceName": "chatty"}},
                auth=(USER, PASSWORD),
            )
            job_id = submitted.json()["details"]["jobId"]
            claimed = await claim_next_job(store, "test-worker", 60)
            assert claimed is not None
            for step in range(2_000):
                await store.append_message(claimed, f"Step {step}: " + "x" * 90)
            assert (await sign_in(http)).status_code == 303
            page = await http.get(f"/console/jobs/{job_id}")
    assert page.status_code == 200
    assert len(page.content) < 200_000
    assert f"The newest {MAX_MESSAGES} of 200" in page.text  # 2,000 and the Started message
    assert "Step 1999: " in page.text
    assert "too long to show here" in page.text
    assert page.text.count('<rect x="') == MAX_STEPS


async def test_no_console_route_answers_without_a_session(
    app: Starlette, browser: httpx.AsyncClient
) -> None:
    """Every route under /console/ but the sign-in form, the static files and the redirect to
    the Activity page: a page sends to the sign-in form, anything else is refused."""
    open_paths = {"/console", "/console/", "/console/sign-in", "/console/sign-out"}
    checked = 0
    for route in app.routes:
        path = getattr(route, "path", "")
        if not path.startswith("/console") or path in open_paths or "/static/" in path:
            continue
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method == "HEAD":
                continue
            answer = await browser.request(method, concrete, data={"csrf_token": "x"})
            assert answer.status_code in (303, 403), (method, path, answer.status_code)
            if answer.status_code == 303:
                assert answer.headers["location"] == "/console/sign-in"
            checked += 1
    assert checked >= 8


async def test_an_empty_domain_and_a_job_without_a_percentage_say_so(
    make_app: Callable[..., Starlette],
) -> None:
    app = make_app(run_worker=False)
    async with app.router.lifespan_context(app):
        await add_tenant(app.state.context.store)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            assert (await sign_in(http)).status_code == 303
            empty = await http.get("/console/activity")
            filtered = await http.get("/console/activity?serviceName=nothing")
            submitted = await http.post(
                f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/caching/instances",
                json={"serviceParameters": {"serviceName": "quiet"}},
                auth=(USER, PASSWORD),
            )
            job_id = submitted.json()["details"]["jobId"]
            waiting = await http.get(f"/console/jobs/{job_id}")
    assert "No jobs yet in this identity domain" in empty.text
    assert "No jobs match these filters" in filtered.text
    assert "reports no percentage" in waiting.text
    assert re.search(r'<progress id="job-progress" max="100">', waiting.text)  # indeterminate
