"""The Activity page's paging and counts over HTTP, in process: its Older and Newer links
(a keyset: next to a job, in the URL) reach every job once, in the API's order; offset links
still work; the counts per status are the API search's totals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from starlette.applications import Starlette

from activitylog.console.activity import PAGE_SIZE
from activitylog.domain.jobs import JobStatus
from tests.conftest import DOMAIN, INSTANCES, PASSWORD, USER, add_tenant, basic_auth
from tests.console.test_console_http import sign_in

pytestmark = pytest.mark.anyio

JOBS = 2 * PAGE_SIZE + 7
FILTER = f"/paas/api/v1.1/activitylog/{DOMAIN}/filter"
_LINK = r'<a href="/console/activity\?([^"]*)"[^>]*>{}</a>'


@pytest.fixture
async def app(make_app: Callable[..., Starlette]) -> AsyncIterator[Starlette]:
    """No worker: the jobs stay as the test leaves them."""
    application = make_app(run_worker=False)
    async with application.router.lifespan_context(application):
        await add_tenant(application.state.context.store)
        yield application


@pytest.fixture
async def api(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    headers = {"Authorization": basic_auth(USER, PASSWORD), "X-ID-TENANT-NAME": DOMAIN}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as http:
        yield http


@pytest.fixture
async def browser(app: Starlette, api: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """Signed in, with JOBS jobs in the domain, every seventh cancelled (FAILED)."""
    for index in range(JOBS):
        body = {"serviceParameters": {"serviceName": f"Cache{index:03d}"}}
        created = await api.post(INSTANCES, json=body)
        assert created.status_code == 202
        if index % 7 == 0:
            job = created.json()["details"]["jobId"]
            cancelled = await api.post(f"/paas/api/v1.1/activitylog/{DOMAIN}/job/{job}/cancel")
            assert cancelled.status_code in (200, 202), cancelled.text
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        assert (await sign_in(http, PASSWORD)).status_code == 303
        yield http


def job_ids(page: str) -> list[int]:
    return [int(job) for job in re.findall(r'<tr id="job-(\d+)"', page)]


def link(page: str, name: str) -> str | None:
    found = re.search(_LINK.format(name), page)
    return found[1].replace("&amp;", "&") if found else None


async def api_order(api: httpx.AsyncClient, query: str = "") -> list[int]:
    answer = await api.get(f"{FILTER}?limit=1000&{query}")
    return [int(job["jobId"]) for job in answer.json()["activityLogs"]]


async def walk(browser: httpx.AsyncClient, start: str, way: str) -> tuple[list[list[int]], str]:
    """The pages from ``start`` following ``way`` links, and the last page's text."""
    page = (await browser.get(f"/console/activity?{start}")).text
    pages = [job_ids(page)]
    while (target := link(page, way)) is not None:
        page = (await browser.get(f"/console/activity?{target}")).text
        pages.append(job_ids(page))
        assert len(pages) < 10, "the links go round in circles"
    return pages, page


async def test_older_links_reach_every_job_once_and_newer_links_come_back(
    browser: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    expected = await api_order(api)
    older, oldest_page = await walk(browser, "", "Older")
    assert [job for page in older for job in page] == expected
    assert [len(page) for page in older] == [PAGE_SIZE, PAGE_SIZE, JOBS - 2 * PAGE_SIZE]
    older_link = link(oldest_page, "Newer")
    assert older_link is not None
    assert older_link.startswith("newer=")
    newer, newest_page = await walk(browser, older_link, "Newer")
    # Back up from the oldest page: full pages, and the last one the newest page.
    assert newer[-1] == older[0]
    assert [job for page in reversed(newer) for job in page][: 2 * PAGE_SIZE] == expected[
        : 2 * PAGE_SIZE
    ]
    assert link(newest_page, "Older") is not None


async def test_the_links_keep_the_filters(
    browser: httpx.AsyncClient, api: httpx.AsyncClient
) -> None:
    query = "status=NEW&serviceType=caching"
    expected = await api_order(api, query)
    assert len(expected) > PAGE_SIZE
    older, _ = await walk(browser, query, "Older")
    assert [job for page in older for job in page] == expected


async def test_offset_links_still_work(browser: httpx.AsyncClient, api: httpx.AsyncClient) -> None:
    expected = await api_order(api)
    page = (await browser.get(f"/console/activity?offset={PAGE_SIZE}")).text
    assert job_ids(page) == expected[PAGE_SIZE : 2 * PAGE_SIZE]
    newer = link(page, "Newer")
    assert newer is not None
    assert job_ids((await browser.get(f"/console/activity?{newer}")).text) == expected[:PAGE_SIZE]
    older = link(page, "Older")
    assert older is not None
    assert (
        job_ids((await browser.get(f"/console/activity?{older}")).text) == expected[2 * PAGE_SIZE :]
    )


@pytest.mark.parametrize("query", ["", "serviceType=caching", "operationType=CREATE_SERVICE"])
async def test_the_counts_are_the_searchs_totals(
    browser: httpx.AsyncClient, api: httpx.AsyncClient, query: str
) -> None:
    page = (await browser.get(f"/console/activity?{query}")).text
    shown = dict(re.findall(r">(\w+) <strong>(\d+)</strong>", page))
    for status in JobStatus:
        found = await api.get(f"{FILTER}?limit=1&status={status}&{query}")
        assert int(shown[status]) == found.json()["totalCount"], status
    assert int(shown["FAILED"]) == len(range(0, JOBS, 7))


async def test_a_link_the_console_did_not_make_says_what_to_do(
    browser: httpx.AsyncClient,
) -> None:
    page = await browser.get("/console/activity?older=yesterday")
    assert page.status_code == 200
    assert "start from the newest" in page.text
    assert 'href="/console/activity"' in page.text
