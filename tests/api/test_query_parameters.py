"""Unknown query parameters: 400 naming each, on every route, the job-status fast path too."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.api.conftest import running_cache
from tests.conftest import INSTANCES, JOB_PREFIX

pytestmark = pytest.mark.anyio


async def _refused(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> list[str]:
    response = await client.request(method, url, **kwargs)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["status"] == "400"
    assert body["details"]["message"] == "Unknown query parameters."
    issues: list[str] = body["details"]["issues"]
    return issues


async def test_a_misspelt_filter_parameter_is_named_not_ignored(
    client: httpx.AsyncClient,
) -> None:
    await running_cache(client)

    issues = await _refused(client, "GET", f"{JOB_PREFIX}/filter?startDate=2017-01-01")

    (issue,) = issues
    assert issue.startswith("'startDate': unknown query parameter; this route takes: ")
    assert "fromStartDate" in issue
    # The documented parameters still work, PSM's Python suite's request among them.
    response = await client.get(
        f"{JOB_PREFIX}/filter", params={"serviceName": "MyCache", "fromStartDate": "2017-01-01"}
    )
    assert response.status_code == 200
    assert response.json()["totalCount"] == 1


@pytest.mark.parametrize(
    ("method", "url", "named"),
    [
        ("GET", f"{JOB_PREFIX}/job/1?=5776", "'' (a parameter with no name)"),
        ("GET", f"{JOB_PREFIX}/filter?%06=x", "'\\x06'"),
        ("GET", f"{JOB_PREFIX}/message/1?verbose", "'verbose'"),
        ("GET", f"{INSTANCES}?outputLevel=verbose", "'outputLevel'"),
        ("POST", f"{INSTANCES}/MyCache/hosts/stop?force=1", "'force'"),
        ("GET", f"{JOB_PREFIX}/users?user=x", "'user'"),
        ("GET", "/health?x=1", "'x'"),
    ],
)
async def test_every_route_names_what_it_does_not_take(
    client: httpx.AsyncClient, method: str, url: str, named: str
) -> None:
    await running_cache(client)

    issues = await _refused(client, method, url, json={})

    assert [issue.split(":")[0] for issue in issues] == [named]


async def test_the_job_status_fast_path_refuses_them_too(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    job_id = await running_cache(client)
    # Warm the fast path: these credentials and this job are now cached.
    assert (await client.get(f"{JOB_PREFIX}/job/{job_id}")).status_code == 200
    assert (await client.get(f"{JOB_PREFIX}/job/{job_id}")).status_code == 200

    issues = await _refused(client, "GET", f"{JOB_PREFIX}/job/{job_id}?=5776")
    assert issues[0].endswith("this route takes: sinceMessage, wait")
    head = await client.head(f"{JOB_PREFIX}/job/{job_id}?limit=1")
    assert head.status_code == 400
    # Our own extensions are documented, hence taken.
    answer = await client.get(f"{JOB_PREFIX}/job/{job_id}", params={"sinceMessage": "1"})
    assert answer.status_code == 200


async def test_a_path_no_route_serves_is_still_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{JOB_PREFIX}/nothing?x=1")

    assert response.status_code == 404


async def test_a_preflight_is_left_to_cors(client: httpx.AsyncClient) -> None:
    response = await client.options(
        f"{JOB_PREFIX}/filter?startDate=2017-01-01",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "GET"},
    )

    assert response.status_code != 400
