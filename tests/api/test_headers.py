"""Headers on every answer (ECID, X-Frame-Options, CORS) and the CORS preflight."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tests.api.conftest import ClientFor, StartApp, store_of
from tests.conftest import INSTANCES, JOB_PREFIX, add_tenant

pytestmark = pytest.mark.anyio

ALLOW_METHODS = "GET, POST, DELETE, PUT, OPTIONS, HEAD"
ALLOW_HEADERS = (
    "Content-Type, api_key, Authorization, X-ID-TENANT-NAME, X-USER-IDENTITY-DOMAIN-NAME, "
    "If-None-Match, Last-Event-ID, Idempotency-Key"
)


def _assert_common_headers(response: httpx.Response) -> str:
    """Check the headers every answer carries; return its ECID."""
    headers = response.headers
    assert headers["x-frame-options"] == "DENY"
    assert headers["access-control-allow-origin"] == "*"
    assert headers["access-control-allow-methods"] == ALLOW_METHODS
    assert headers["access-control-allow-headers"] == ALLOW_HEADERS
    exposed = {name.strip() for name in headers["access-control-expose-headers"].split(",")}
    assert {"Location", "X-ORACLE-DMS-ECID", "ETag", "Retry-After"} <= exposed
    (ecid,) = headers.get_list("x-oracle-dms-ecid")
    assert ecid.strip()
    return ecid


async def test_every_answer_carries_the_headers_and_a_fresh_ecid(
    app: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    await add_tenant(store_of(app), user="viewer@example.com", password="viewerPass", role="viewer")
    viewer = client_for(app, "viewer@example.com", "viewerPass")
    anonymous = client_for(app, user=None)
    create = {"serviceParameters": {"serviceName": "MyCache"}}

    answers = [
        (await client.post(INSTANCES, json=create), 202),
        (await client.get(f"{JOB_PREFIX}/job/1"), 200),
        (await client.head(f"{JOB_PREFIX}/job/1"), 200),
        (await client.get(f"{JOB_PREFIX}/filter"), 200),
        (await client.get("/health"), 200),
        (await client.get("/openapi.json"), 200),
        (
            await client.put(f"{JOB_PREFIX}/users/x@example.com", json={"password": "longEnough"}),
            201,
        ),
        (await client.delete(f"{JOB_PREFIX}/users/x@example.com"), 204),
        (await client.get(f"{JOB_PREFIX}/job/abc"), 400),
        (await anonymous.get(f"{JOB_PREFIX}/filter"), 401),
        (await viewer.post(INSTANCES, json=create), 403),
        (await client.get(f"{JOB_PREFIX}/job/999"), 404),
        (await client.get("/no/such/route"), 404),
        (await client.post(f"{JOB_PREFIX}/job/1"), 405),
        (await client.post(INSTANCES, json=create), 409),
        (await client.post(INSTANCES, content=b"x", headers={"Content-Type": "text/xml"}), 415),
        (await client.options(f"{JOB_PREFIX}/job/1"), 204),
    ]

    assert [response.status_code for response, _ in answers] == [code for _, code in answers]
    ecids = [_assert_common_headers(response) for response, _ in answers]
    assert len(set(ecids)) == len(ecids)


async def test_ecids_differ_between_processes(start_app: StartApp, client_for: ClientFor) -> None:
    first = client_for(await start_app(run_worker=False))
    second = client_for(await start_app(run_worker=False))

    one = (await first.get("/health")).headers["x-oracle-dms-ecid"]
    other = (await second.get("/health")).headers["x-oracle-dms-ecid"]

    assert one != other


@pytest.mark.parametrize(
    "path", [f"{JOB_PREFIX}/job/1", f"{JOB_PREFIX}/filter", f"{INSTANCES}/MyCache/scale"]
)
async def test_preflight_is_answered_204_without_credentials(
    app: Starlette, client_for: ClientFor, path: str
) -> None:
    anonymous = client_for(app, user=None, tenant=None)

    response = await anonymous.options(
        path,
        headers={
            "Origin": "https://console.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, X-ID-TENANT-NAME, Content-Type",
        },
    )

    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["access-control-max-age"] == "600"
    _assert_common_headers(response)
