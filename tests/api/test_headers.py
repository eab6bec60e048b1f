"""Headers on every answer (ECID, X-Frame-Options, nosniff, CORS), the caching headers of
authenticated answers, the CORS allow-list and preflight, and HSTS when serving TLS."""

from __future__ import annotations

from pathlib import Path

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
    assert headers["x-content-type-options"] == "nosniff"
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


PUBLIC_PATHS = ["/health", "/openapi.json", "/metrics"]


def _assert_not_stored(response: httpx.Response) -> None:
    assert response.headers.get_list("cache-control") == ["no-store"], response.headers
    vary = {name.strip().lower() for name in response.headers["vary"].split(",")}
    assert "authorization" in vary


async def test_authenticated_answers_are_not_stored_and_vary_by_credentials(
    app: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    anonymous = client_for(app, user=None)
    create = {"serviceParameters": {"serviceName": "MyCache"}}

    answers = [
        await client.post(INSTANCES, json=create),
        await client.get(f"{JOB_PREFIX}/job/1"),  # read by Starlette, then cached
        await client.get(f"{JOB_PREFIX}/job/1"),  # the job-status fast path's answer
        await client.get(f"{JOB_PREFIX}/job/1?sinceMessage=0"),
        await client.get(f"{JOB_PREFIX}/filter"),
        await client.get(f"{JOB_PREFIX}/users"),
        await client.get(f"{JOB_PREFIX}/job/999"),
        await anonymous.get(f"{JOB_PREFIX}/filter"),
    ]

    assert [answer.status_code for answer in answers] == [202, 200, 200, 200, 200, 200, 404, 401]
    for answer in answers:
        _assert_not_stored(answer)


@pytest.mark.parametrize("path", PUBLIC_PATHS)
async def test_answers_that_need_no_credentials_may_be_cached(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path)

    assert response.status_code == 200
    assert "cache-control" not in response.headers
    assert response.headers["x-content-type-options"] == "nosniff"


CONSOLE = "https://console.example.com"


async def test_an_allowed_origin_is_named_and_others_are_not(
    start_app: StartApp, client_for: ClientFor
) -> None:
    app = await start_app(cors_origins=(CONSOLE, "https://other.example.com"))
    client = client_for(app)
    job = f"{JOB_PREFIX}/job/1"
    await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "MyCache"}})
    await client.get(job)  # cached: the next GETs of the job take the fast path

    for path in (job, f"{JOB_PREFIX}/filter", "/health"):
        allowed = await client.get(path, headers={"Origin": CONSOLE})
        foreign = await client.get(path, headers={"Origin": "https://evil.example.com"})
        no_origin = await client.get(path)

        assert allowed.headers["access-control-allow-origin"] == CONSOLE
        assert "access-control-allow-origin" not in foreign.headers
        assert "access-control-allow-origin" not in no_origin.headers
        for answer in (allowed, foreign, no_origin):
            assert answer.status_code == 200
            vary = {name.strip().lower() for name in answer.headers["vary"].split(",")}
            assert "origin" in vary


async def test_the_preflight_names_only_an_allowed_origin(
    start_app: StartApp, client_for: ClientFor
) -> None:
    anonymous = client_for(await start_app(cors_origins=(CONSOLE,)), user=None, tenant=None)
    ask = {"Access-Control-Request-Method": "POST"}

    allowed = await anonymous.options(INSTANCES, headers={**ask, "Origin": CONSOLE})
    foreign = await anonymous.options(INSTANCES, headers={**ask, "Origin": "https://evil.example"})

    assert allowed.status_code == foreign.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == CONSOLE
    assert allowed.headers["access-control-allow-methods"] == ALLOW_METHODS
    assert "access-control-allow-origin" not in foreign.headers


async def test_hsts_is_sent_only_when_serving_tls(
    start_app: StartApp, client_for: ClientFor, tmp_path: Path
) -> None:
    certificate, key = tmp_path / "server.pem", tmp_path / "server.key"
    plain = client_for(await start_app())
    tls = client_for(
        await start_app(
            tls_certificate=str(certificate), tls_key=str(key), db=str(tmp_path / "tls.db")
        )
    )

    assert "strict-transport-security" not in (await plain.get("/health")).headers
    for path in ("/health", f"{JOB_PREFIX}/filter"):
        hsts = (await tls.get(path)).headers["strict-transport-security"]
        assert hsts == "max-age=31536000"
