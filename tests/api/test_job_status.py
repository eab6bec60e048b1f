"""GET .../activitylog/{domain}/job/{jobId} and message/{logId}: the seed endpoint's body."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import re
import sqlite3

import httpx
import pytest
from starlette.applications import Starlette

from tests.api.conftest import (
    JOB_KEYS,
    OTHER_DOMAIN,
    OTHER_PASSWORD,
    OTHER_USER,
    RUNNING_JOB_KEYS,
    TIMESTAMP,
    ClientFor,
    StartApp,
    create_cache,
    poll_job,
    running_cache,
    store_of,
    wait_for_status,
)
from tests.conftest import DOMAIN, INSTANCES, JOB_PREFIX, USER, add_tenant

pytestmark = pytest.mark.anyio

CREATE_MESSAGES = [
    "Activity Submitted",
    "Activity Started",
    f"Started operation to create service [MyCache] in identity domain [{DOMAIN}].",
    "Acquired resources for instance(2G) mycache-cach-1...",
    "Deploying cache cluster on mycache-cach-1...",
    "Cache cluster deployed and listening on mycache-cach-1:9000.",
    f"Completed operation to create service [MyCache] in identity domain [{DOMAIN}].",
    "Activity Ended",
]
BAD_IDS = ["abc", "-1", "1.5", "1e3", "+1", "\uff11", "9223372036854775808", "9" * 5000]


def _parse_timestamp(text: str) -> dt.datetime:
    assert re.fullmatch(TIMESTAMP, text), text
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")


async def test_ended_job_body_is_compact_in_wire_order(client: httpx.AsyncClient) -> None:
    job_id = await create_cache(client, size="2")
    await wait_for_status(client, job_id)

    response = await client.get(f"{JOB_PREFIX}/job/{job_id}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == JOB_KEYS
    assert response.text == json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    assert {
        key: body[key] for key in JOB_KEYS if key not in ("startDate", "endDate", "messages")
    } == {
        "activityLogId": 1,
        "serviceName": "MyCache",
        "serviceType": "caching",
        "identityDomain": DOMAIN,
        "serviceId": 1,
        "jobId": job_id,
        "status": "SUCCEED",
        "operationId": 1,
        "operationType": "CREATE_SERVICE",
        "summaryMessage": "CREATE_SERVICE",
        "authDomain": DOMAIN,
        "authUser": USER,
        "initiatedBy": "USER",
    }
    assert [m["message"] for m in body["messages"]] == CREATE_MESSAGES
    assert all(list(m) == ["activityDate", "message"] for m in body["messages"])


async def test_dates_are_utc_milliseconds_in_psm_format(client: httpx.AsyncClient) -> None:
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    body = await wait_for_status(client, await create_cache(client))
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)

    start, end = _parse_timestamp(body["startDate"]), _parse_timestamp(body["endDate"])
    message_dates = [_parse_timestamp(m["activityDate"]) for m in body["messages"]]
    assert before <= start <= end <= after
    assert message_dates == sorted(message_dates)
    # Submitted is written with the job row, Ended with the terminal status.
    assert (message_dates[0], message_dates[-1]) == (start, end)


async def test_new_job_has_no_end_date(idle_client: httpx.AsyncClient) -> None:
    job_id = await create_cache(idle_client)

    response = await idle_client.get(f"{JOB_PREFIX}/job/{job_id}")

    assert response.status_code == 200
    body = response.json()
    assert list(body) == RUNNING_JOB_KEYS
    assert '"endDate"' not in response.text
    assert '"status":"NEW"' in response.text
    assert body["messages"] == [
        {"activityDate": body["startDate"], "message": "Activity Submitted"}
    ]


async def test_job_goes_new_running_succeed_with_activity_messages(
    start_app: StartApp, client_for: ClientFor
) -> None:
    client = client_for(await start_app(demo_step_delay=0.1))
    job_id = await create_cache(client, size="2")

    response = await poll_job(client, job_id, "RUNNING", "SUCCEED", "FAILED", "WARN")

    # Shell scripts loop while they see exactly this text.
    assert '"status":"RUNNING"' in response.text
    running = response.json()
    assert list(running) == RUNNING_JOB_KEYS
    assert [m["message"] for m in running["messages"]][:2] == CREATE_MESSAGES[:2]

    ended = await wait_for_status(client, job_id, "SUCCEED", "FAILED", "WARN")
    assert ended["status"] == "SUCCEED"
    assert list(ended) == JOB_KEYS
    assert [m["message"] for m in ended["messages"]] == CREATE_MESSAGES
    assert ended["messages"][: len(running["messages"])] == running["messages"]


async def test_job_polled_at_once_after_202_is_there(client: httpx.AsyncClient) -> None:
    for number in range(20):
        response = await client.post(
            INSTANCES,
            json={"serviceParameters": {"serviceName": f"Cache{number}"}},
        )
        assert response.status_code == 202
        job = await client.get(response.headers["Location"])
        assert job.status_code == 200, job.text
        assert job.json()["jobId"] == int(response.json()["details"]["jobId"])
        assert job.json()["status"] in ("NEW", "RUNNING", "SUCCEED")


async def test_unknown_job_is_404_with_json_body(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{JOB_PREFIX}/job/999")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "status": "404",
        "details": {"message": f"No job [999] in identity domain [{DOMAIN}]."},
    }


async def test_job_of_another_domain_looks_like_no_job(
    app: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    job_id = await running_cache(client)
    await add_tenant(store_of(app), OTHER_DOMAIN, OTHER_USER, OTHER_PASSWORD)
    other = client_for(app, OTHER_USER, OTHER_PASSWORD, tenant=OTHER_DOMAIN)
    other_prefix = f"/paas/api/v1.1/activitylog/{OTHER_DOMAIN}"

    existing_elsewhere = await other.get(f"{other_prefix}/job/{job_id}")
    missing = await other.get(f"{other_prefix}/job/{job_id + 1000}")

    assert (existing_elsewhere.status_code, missing.status_code) == (404, 404)
    assert existing_elsewhere.json() == {
        "status": "404",
        "details": {"message": f"No job [{job_id}] in identity domain [{OTHER_DOMAIN}]."},
    }
    assert missing.json()["details"]["message"] == (
        f"No job [{job_id + 1000}] in identity domain [{OTHER_DOMAIN}]."
    )
    record = await other.get(f"{other_prefix}/message/1")
    assert record.status_code == 404
    assert (await other.get(f"{other_prefix}/filter")).json() == {
        "activityLogs": [],
        "totalCount": 0,
    }


@pytest.mark.parametrize("kind", ["job", "message"])
@pytest.mark.parametrize("bad_id", BAD_IDS, ids=lambda text: text[:20])
async def test_id_that_is_not_a_whole_number_is_400(
    client: httpx.AsyncClient, kind: str, bad_id: str
) -> None:
    name = "jobId" if kind == "job" else "logId"

    response = await client.get(f"{JOB_PREFIX}/{kind}/{bad_id}")

    assert response.status_code == 400
    assert response.json() == {
        "status": "400",
        "details": {
            "message": f"{name} must be a whole number, got {bad_id[:40]!r}.",
            "issues": [f"{name}: expected an integer"],
        },
    }


@pytest.mark.parametrize("kind", ["job", "message"])
async def test_largest_id_is_a_plain_404(client: httpx.AsyncClient, kind: str) -> None:
    response = await client.get(f"{JOB_PREFIX}/{kind}/{2**63 - 1}")

    assert response.status_code == 404
    assert response.json()["status"] == "404"


async def test_message_looks_up_by_activity_log_id_not_job_id(
    client: httpx.AsyncClient, sqlite_path: str
) -> None:
    # Oracle's numbers differ (activityLogId 7126 for job 23770); make ours differ too.
    with contextlib.closing(sqlite3.connect(sqlite_path)) as connection, connection:
        connection.execute("UPDATE id_sequences SET last_value = 7125 WHERE name = 'activity_log'")
    job_id = await create_cache(client)
    job = await wait_for_status(client, job_id)
    assert (job["jobId"], job["activityLogId"]) == (1, 7126)

    by_log_id = await client.get(f"{JOB_PREFIX}/message/7126")
    by_job_id = await client.get(f"{JOB_PREFIX}/message/1")
    job_by_log_id = await client.get(f"{JOB_PREFIX}/job/7126")

    assert by_log_id.status_code == 200
    assert by_log_id.json() == job
    assert list(by_log_id.json()) == JOB_KEYS
    assert by_job_id.status_code == 404
    assert by_job_id.json() == {
        "status": "404",
        "details": {"message": f"No activity log record [1] in identity domain [{DOMAIN}]."},
    }
    assert job_by_log_id.status_code == 404


async def test_head_answers_like_get_without_a_body(client: httpx.AsyncClient) -> None:
    job_id = await create_cache(client)
    await wait_for_status(client, job_id)
    get = await client.get(f"{JOB_PREFIX}/job/{job_id}")

    head = await client.head(f"{JOB_PREFIX}/job/{job_id}")
    head_missing = await client.head(f"{JOB_PREFIX}/job/999")

    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-type"] == "application/json"
    assert int(head.headers["content-length"]) == len(get.content)
    assert head_missing.status_code == 404
    assert head_missing.content == b""
