"""The Overview page in process: its numbers for jobs run through the API, each window, its
headers and size, and nothing for a signed-out browser."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from activitylog.console.rendering import CONTENT_SECURITY_POLICY
from tests.api.conftest import create_cache, wait_for_status
from tests.console.test_console_http import browser, sign_in  # noqa: F401 - browser: a fixture

pytestmark = pytest.mark.anyio


def stat(page: str, name: str) -> str:
    match = re.search(rf'<dd id="{name}"[^>]*>([^<]*)</dd>', page)
    assert match is not None, name
    return match[1]


async def test_the_numbers_of_jobs_run_through_the_api_in_each_window(
    client: httpx.AsyncClient,
    browser: httpx.AsyncClient,  # noqa: F811
) -> None:
    for name in ("one", "two"):
        await wait_for_status(client, await create_cache(client, name))
    await sign_in(browser)
    for window, bucket in (("1h", "minute"), ("24h", "5 minutes"), ("7d", "hour")):
        page = await browser.get("/console/overview", params={"window": window})
        assert page.status_code == 200
        assert f"per {bucket}" in page.text
        assert stat(page.text, "started-total") == "2"
        assert stat(page.text, "ended-total") == "2"
        assert stat(page.text, "ended-succeed") == "2"
        assert stat(page.text, "failure-rate") == "0.0 %"
        assert stat(page.text, "waiting") == "0"
        assert re.search(r"<td>CREATE_SERVICE</td><td>2</td>", page.text)
        series = re.search(r"data-series='([^']*)'", page.text)
        assert series is not None
        data = json.loads(series[1])
        assert sum(data["started"]) == 2
        assert sum(data["ended"]["SUCCEED"]) == 2
        assert len(data["times"]) == {"1h": 60, "24h": 288, "7d": 168}[window]
        assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert re.search(r"<script(?![^>]*\bsrc=)", page.text) is None  # no inline script
        assert "style=" not in page.text
        assert len(page.content) < 200_000
        live = await browser.get("/console/overview/live", params={"window": window})
        assert stat(live.text, "started-total") == "2"


async def test_a_signed_out_browser_gets_nothing(browser: httpx.AsyncClient) -> None:  # noqa: F811
    page = await browser.get("/console/overview")
    assert page.status_code == 303
    assert page.headers["location"] == "/console/sign-in"
    assert (await browser.get("/console/overview/live")).status_code == 403
