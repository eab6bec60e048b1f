"""Every failure answers PSM's JSON error body: never HTML, never a traceback."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from activitylog.domain.instances import OperationType
from activitylog.engine.demo_caching import demo_caching_service_type
from activitylog.engine.handlers import JobContext, ServiceType, ServiceTypeRegistry
from activitylog.serving import create_app
from activitylog.settings import Settings
from tests.api.conftest import ClientFor, StartApp, store_of
from tests.conftest import DOMAIN, INSTANCES, JOB_PREFIX, add_tenant

pytestmark = pytest.mark.anyio

NO_ROUTE = {
    "status": "404",
    "details": {
        "message": "No such resource; see /openapi.json for the routes this service offers."
    },
}
NO_METHOD = {
    "status": "405",
    "details": {"message": "This method is not allowed on this resource."},
}


def _assert_json_error(response: httpx.Response, expected: dict[str, Any]) -> None:
    assert response.headers["content-type"] == "application/json"
    assert response.json() == expected
    assert "<" not in response.text
    assert "Traceback" not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/nope",
        "/paas/api/v1.1/activitylog",
        f"{JOB_PREFIX}/jobs/1",
        f"{JOB_PREFIX}/job/1/extra",
        f"{JOB_PREFIX}/job/",
        f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services",
        f"{INSTANCES}/MyCache/hosts/reboot",
    ],
)
async def test_unknown_route_is_a_json_404(
    app: Starlette, client_for: ClientFor, path: str
) -> None:
    for client in (client_for(app), client_for(app, user=None)):
        response = await client.get(path, headers={"Accept": "text/html"})
        assert response.status_code == 404
        _assert_json_error(response, NO_ROUTE)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("POST", f"{JOB_PREFIX}/job/1", {"GET", "HEAD"}),
        ("DELETE", f"{JOB_PREFIX}/filter", {"GET", "HEAD"}),
        ("PUT", f"{JOB_PREFIX}/message/1", {"GET", "HEAD"}),
        ("PATCH", INSTANCES, {"GET", "HEAD", "POST"}),
        ("POST", f"{INSTANCES}/MyCache", {"GET", "HEAD", "PUT", "DELETE"}),
        ("GET", f"{INSTANCES}/MyCache/scale", {"POST"}),
        ("GET", f"{INSTANCES}/MyCache/hosts/stop", {"POST"}),
        ("PATCH", f"{JOB_PREFIX}/users", {"GET", "HEAD", "POST"}),
        ("GET", f"{JOB_PREFIX}/users/someone", {"PUT", "DELETE"}),
        ("POST", "/openapi.json", {"GET", "HEAD"}),
    ],
)
async def test_wrong_method_is_a_json_405_listing_the_allowed_ones(
    client: httpx.AsyncClient, method: str, path: str, allowed: set[str]
) -> None:
    response = await client.request(method, path, headers={"Accept": "text/html"})

    assert response.status_code == 405
    _assert_json_error(response, NO_METHOD)
    assert {method.strip() for method in response.headers["allow"].split(",")} == allowed


def _broken_validator(operation_type: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    raise RuntimeError("secret detail: /srv/activitylog/db password=hunter2")


async def _do_nothing(context: JobContext) -> None:
    return None


@pytest.fixture
async def broken_app(tmp_path: Path) -> AsyncIterator[Starlette]:
    """An app whose `broken` service type fails in its own code, as a buggy plug-in would."""
    broken = ServiceType(
        name="broken",
        handlers={OperationType.CREATE_SERVICE: _do_nothing},
        validate_parameters=_broken_validator,
    )
    registry = ServiceTypeRegistry([demo_caching_service_type(0.0), broken])
    settings = Settings(db=str(tmp_path / "broken.db"), run_worker=False)
    application = create_app(settings, registry=registry)
    async with application.router.lifespan_context(application):
        await add_tenant(store_of(application))
        yield application


async def test_unexpected_error_is_a_json_500_with_an_ecid(
    broken_app: Starlette, client_for: ClientFor
) -> None:
    client = client_for(broken_app)
    url = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/broken/instances"

    response = await client.post(url, json={"serviceParameters": {"serviceName": "MyCache"}})

    assert response.status_code == 500
    _assert_json_error(
        response,
        {
            "status": "500",
            "details": {
                "message": "Internal error. The X-ORACLE-DMS-ECID header of this answer "
                "identifies the request in the server log."
            },
        },
    )
    assert "hunter2" not in response.text
    assert response.headers["x-oracle-dms-ecid"]
    assert response.headers["x-frame-options"] == "DENY"
    assert (await client.get(f"{JOB_PREFIX}/filter")).status_code == 200


async def test_store_down_is_a_json_503_with_retry_after(
    start_app: StartApp, client_for: ClientFor
) -> None:
    app = await start_app(run_worker=False)
    client = client_for(app)
    assert (await client.get(f"{JOB_PREFIX}/filter")).status_code == 200  # credential cached
    await store_of(app).close()

    response = await client.get(f"{JOB_PREFIX}/job/1")

    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    _assert_json_error(
        response, {"status": "503", "details": {"message": "The store is not open."}}
    )
