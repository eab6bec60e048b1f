"""POST .../activitylog/{domain}/job/{jobId}/cancel: 200 for a job that had not started, 202
for one its worker will stop, 409 once it has ended."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.conftest import (
    OTHER_DOMAIN,
    OTHER_PASSWORD,
    OTHER_USER,
    ClientFor,
    StartApp,
    create_cache,
    store_of,
    wait_for_status,
)
from tests.conftest import DOMAIN, INSTANCES, JOB_PREFIX, USER, add_tenant

pytestmark = pytest.mark.anyio

VIEWER = "vic@example.com"
VIEWER_PASSWORD = "vicPassword"


def cancel_url(job_id: int | str, domain: str = DOMAIN) -> str:
    return f"/paas/api/v1.1/activitylog/{domain}/job/{job_id}/cancel"


def messages(body: dict[str, Any]) -> list[str]:
    return [message["message"] for message in body["messages"]]


async def test_a_job_that_has_not_started_ends_at_once_200(
    idle_client: httpx.AsyncClient,
) -> None:
    job_id = await create_cache(idle_client)

    answer = await idle_client.post(cancel_url(job_id))

    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert (body["jobId"], body["status"]) == (job_id, "FAILED")
    assert "endDate" in body
    assert messages(body) == ["Activity Submitted", f"Cancelled by {USER}.", "Activity Ended"]
    assert (await idle_client.get(f"{JOB_PREFIX}/job/{job_id}")).json() == body
    instance = (await idle_client.get(f"{INSTANCES}/MyCache")).json()
    assert instance["state"] == "FAILED"


async def test_a_running_job_is_asked_to_stop_202_then_ends_failed(
    start_app: StartApp, client_for: ClientFor
) -> None:
    # The demo handler ignores the request; the grace period then cancels it.
    client = client_for(await start_app(demo_step_delay=5.0, cancel_grace=0.1))
    job_id = await create_cache(client)
    await wait_for_status(client, job_id, "RUNNING")

    answer = await client.post(cancel_url(job_id))

    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "RUNNING"
    assert "endDate" not in body
    assert messages(body)[-1] == f"Cancellation requested by {USER}."
    ended = await wait_for_status(client, job_id, "FAILED")
    assert messages(ended)[-2:] == [f"Cancelled by {USER}.", "Activity Ended"]


async def test_an_ended_job_is_409(start_app: StartApp, client_for: ClientFor) -> None:
    client = client_for(await start_app())
    job_id = await create_cache(client)
    await wait_for_status(client, job_id)

    answer = await client.post(cancel_url(job_id))

    assert answer.status_code == 409
    assert answer.json() == {
        "status": "409",
        "details": {"message": f"Job [{job_id}] already ended with status SUCCEED."},
    }
    assert (await client.get(f"{JOB_PREFIX}/job/{job_id}")).json()["status"] == "SUCCEED"


async def test_an_unknown_job_or_another_domains_is_404(
    start_app: StartApp, client_for: ClientFor
) -> None:
    app = await start_app(run_worker=False)
    await add_tenant(store_of(app), OTHER_DOMAIN, OTHER_USER, OTHER_PASSWORD)
    mine = client_for(app)
    theirs = client_for(app, OTHER_USER, OTHER_PASSWORD, OTHER_DOMAIN)
    job_id = await create_cache(mine)

    unknown = await mine.post(cancel_url(999))
    elsewhere = await theirs.post(cancel_url(job_id, OTHER_DOMAIN))

    assert unknown.status_code == elsewhere.status_code == 404
    assert unknown.json()["details"]["message"] == f"No job [999] in identity domain [{DOMAIN}]."
    assert (await mine.get(f"{JOB_PREFIX}/job/{job_id}")).json()["status"] == "NEW"


async def test_a_viewer_may_not_cancel_403(start_app: StartApp, client_for: ClientFor) -> None:
    app = await start_app(run_worker=False)
    await add_tenant(store_of(app), DOMAIN, VIEWER, VIEWER_PASSWORD, role="viewer")
    job_id = await create_cache(client_for(app))

    answer = await client_for(app, VIEWER, VIEWER_PASSWORD).post(cancel_url(job_id))

    assert answer.status_code == 403
    assert answer.json()["status"] == "403"


@pytest.mark.parametrize(("job_id", "status"), [("abc", 400), ("1", 401)])
async def test_a_bad_id_is_400_and_no_credentials_401(
    start_app: StartApp, client_for: ClientFor, job_id: str, status: int
) -> None:
    app = await start_app(run_worker=False)
    client = client_for(app) if status == 400 else client_for(app, user=None)

    answer = await client.post(cancel_url(job_id))

    assert answer.status_code == status
    assert answer.json()["status"] == str(status)
