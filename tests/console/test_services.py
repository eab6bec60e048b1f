"""The Services page's forms over HTTP, in process, on the demo `caching` type: they submit
through the API's own code, refuse a viewer and a form without its token, and show the API's
message with what was typed when the parameters are wrong."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from activitylog.domain import audit
from activitylog.domain.audit import AuditQuery
from activitylog.store.base import Store
from tests.conftest import DOMAIN, PASSWORD, USER, add_tenant

pytestmark = pytest.mark.anyio

VIEWER = ("vera@example.com", "veraPassword")
CREATE = "/console/services/caching/create"


def instance_path(name: str, action: str) -> str:
    return f"/console/services/caching/instances/{name}/{action}"


@pytest.fixture
def store(app: Starlette) -> Store:
    store: Store = app.state.context.store
    return store


@pytest.fixture
async def browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A browser signed in as the demo admin."""
    async with _client(app) as http:
        await _sign_in(http, USER, PASSWORD)
        yield http


@pytest.fixture
async def viewer(app: Starlette, store: Store) -> AsyncIterator[httpx.AsyncClient]:
    await add_tenant(store, DOMAIN, *VIEWER, role="viewer")
    async with _client(app) as http:
        await _sign_in(http, *VIEWER)
        yield http


def _client(app: Starlette) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _sign_in(http: httpx.AsyncClient, user: str, password: str) -> None:
    form = (await http.get("/console/sign-in")).text
    fields = {"csrf_token": _token(form), "domain": DOMAIN, "user": user, "password": password}
    assert (await http.post("/console/sign-in", data=fields)).status_code == 303


def _token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None
    return match[1]


async def _page_token(http: httpx.AsyncClient) -> str:
    page = await http.get("/console/services")
    assert page.status_code == 200
    return _token(page.text)


async def _create(http: httpx.AsyncClient, name: str, **fields: str) -> httpx.Response:
    data = {"csrf_token": await _page_token(http), "serviceName": name, **fields}
    return await http.post(CREATE, data=data)


async def _act(http: httpx.AsyncClient, name: str, action: str) -> httpx.Response:
    return await http.post(
        instance_path(name, action), data={"csrf_token": await _page_token(http)}
    )


async def test_a_create_lands_on_its_job_and_the_page_lists_the_instance_with_it(
    browser: httpx.AsyncClient, store: Store
) -> None:
    answer = await _create(browser, "MyCache", **{"parameter.size": "2"})
    assert answer.status_code == 303
    job_path = answer.headers["location"]
    job_id = int(job_path.rsplit("/", 1)[1])
    domain = await store.get_domain(DOMAIN)
    assert domain is not None
    job = await store.get_job(domain.domain_id, job_id)
    assert job is not None
    assert (job.service_name, job.operation_type, job.auth_user) == (
        "MyCache",
        "CREATE_SERVICE",
        USER,
    )
    page = (await browser.get("/console/services")).text
    assert 'data-name="MyCache"' in page
    assert f'href="/console/jobs/{job_id}"' in page
    assert "size: 2" in page
    live = await browser.get("/console/services/live")
    assert live.status_code == 200
    assert f'href="/console/jobs/{job_id}"' in live.text


async def test_a_delete_goes_through_the_apis_audit(
    browser: httpx.AsyncClient, store: Store
) -> None:
    assert (await _create(browser, "Doomed")).status_code == 303
    domain = await store.get_domain(DOMAIN)
    assert domain is not None
    await _until_running(store, domain.domain_id, "Doomed")
    deleting = await _act(browser, "Doomed", "delete")
    assert deleting.status_code == 303, deleting.text
    events, _ = await store.search_audit_events(
        domain.domain_id, AuditQuery(kind=audit.INSTANCE_DELETION_REQUESTED)
    )
    assert [event.subject for event in events] == ["Doomed"]


async def _until_running(store: Store, domain_id: int, name: str) -> None:
    """The in-process worker runs the demo's create at once (no step delay); wait for it."""
    for _ in range(250):
        instance = await store.get_instance(domain_id, "caching", name)
        if instance is not None and instance.state == "running":
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{name} is not running after 5 s")


async def test_a_create_of_a_taken_name_is_a_conflict_with_what_to_do(
    browser: httpx.AsyncClient,
) -> None:
    assert (await _create(browser, "Taken")).status_code == 303
    again = await _create(browser, "Taken")
    assert again.status_code == 409
    assert "Choose another name" in again.text


async def test_bad_parameters_show_the_apis_message_and_keep_what_was_typed(
    browser: httpx.AsyncClient,
) -> None:
    answer = await _create(browser, "MyCache", **{"parameter.size": "999"})
    assert answer.status_code == 400
    page = html.unescape(answer.text)
    assert "serviceParameters.size: expected whole gigabytes from 1 to 64, got '999'" in page
    assert "Correct what is listed, and submit again." in page
    assert 'value="MyCache"' in page
    assert 'value="999"' in page
    badly_named = await _create(browser, "1st")
    assert badly_named.status_code == 400
    assert "The service name is not valid." in badly_named.text
    scaled = await _act(browser, "Nothing", "scale")  # the size is checked before the instance
    assert scaled.status_code == 400
    assert "serviceParameters.size: required to scale" in scaled.text


async def test_an_operation_on_no_instance_says_so(browser: httpx.AsyncClient) -> None:
    answer = await _act(browser, "Nothing", "stop")
    assert answer.status_code == 404
    assert "Nothing" in answer.text
    assert (await _act(browser, "Nothing", "explode")).status_code == 404


async def test_a_viewer_sees_no_controls_and_a_forged_form_is_refused(
    viewer: httpx.AsyncClient, store: Store
) -> None:
    page = await viewer.get("/console/services")
    assert page.status_code == 200
    assert "/console/services/caching/create" not in page.text
    assert "<button" not in page.text.split("</header>", 1)[1]
    token = _token(page.text)  # the sign-out form's: a viewer's valid token
    answer = await viewer.post(CREATE, data={"csrf_token": token, "serviceName": "Forged"})
    assert answer.status_code == 403
    assert "needs the operator role" in answer.text
    domain = await store.get_domain(DOMAIN)
    assert domain is not None
    assert await store.list_instances(domain.domain_id, "caching") == []


async def test_a_form_without_its_token_is_refused(
    browser: httpx.AsyncClient, store: Store
) -> None:
    for fields in ({}, {"csrf_token": "guessed"}):
        answer = await browser.post(CREATE, data={**fields, "serviceName": "Forged"})
        assert answer.status_code == 403
        stop = await browser.post(instance_path("Forged", "stop"), data=fields)
        assert stop.status_code == 403
    domain = await store.get_domain(DOMAIN)
    assert domain is not None
    assert await store.list_instances(domain.domain_id, "caching") == []


async def test_a_signed_out_browser_is_sent_to_sign_in(app: Starlette) -> None:
    async with _client(app) as http:
        assert (await http.get("/console/services")).status_code == 303
        assert (await http.get("/console/services/live")).status_code == 403
        assert (await http.post(CREATE, data={"serviceName": "X"})).status_code == 403
