"""GET .../activitylog/{domain}/filter: every parameter, paging, ordering and the 400s."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable

import httpx
import pytest
from starlette.applications import Starlette

from tests.api.conftest import (
    JOB_KEYS,
    RUNNING_JOB_KEYS,
    ClientFor,
    StartApp,
    create_cache,
    run_operation,
    running_cache,
    set_start_dates,
)
from tests.conftest import INSTANCES, JOB_PREFIX, add_tenant

pytestmark = pytest.mark.anyio

FILTER = f"{JOB_PREFIX}/filter"
MAX_BIGINT = 2**63 - 1
DATE_HINT = (
    "use yyyy-MM-dd, yyyy-MM-dd'T'HH:mm:ss.SSSZ, yyyy-MM-dd HH:mm:ss or yyyy-MM-dd'T'HH:mm:ss"
)
FIELDS = "startDate, endDate, serviceName, serviceType, status, operationType, jobId, activityLogId"


def _ms(text: str) -> int:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (dt.datetime.fromisoformat(text) - epoch) // dt.timedelta(milliseconds=1)


# The seeded jobs: id -> (service, operation, status, start date).
JOBS = {
    1: ("Alpha", "CREATE_SERVICE", "SUCCEED", "2017-04-10T08:00:00.000+00:00"),
    2: ("Beta", "CREATE_SERVICE", "SUCCEED", "2017-04-11T09:30:00.000+00:00"),
    3: ("Alpha", "STOP_SERVICE", "SUCCEED", "2017-04-12T16:01:28.238+00:00"),
    4: ("Gamma", "CREATE_SERVICE", "SUCCEED", "2017-04-12T23:59:59.999+00:00"),
    5: ("Beta", "SCALE_SERVICE", "SUCCEED", "2017-04-13T00:00:00.000+00:00"),
    6: ("Delta", "CREATE_SERVICE", "NEW", "2017-04-14T12:00:00.000+00:00"),
}
NEWEST_FIRST = [6, 5, 4, 3, 2, 1]


@pytest.fixture
async def seeded(
    make_app: Callable[..., Starlette],
    start_app: StartApp,
    client_for: ClientFor,
    sqlite_path: str,
) -> httpx.AsyncClient:
    """Five ended jobs and a NEW one, with fixed start dates; a client on a worker-less app."""
    worker_app = make_app()
    async with worker_app.router.lifespan_context(worker_app):
        await add_tenant(worker_app.state.context.store)
        client = client_for(worker_app)
        await running_cache(client, "Alpha")
        await running_cache(client, "Beta")
        await run_operation(client, "POST", f"{INSTANCES}/Alpha/hosts/stop", json={})
        await running_cache(client, "Gamma")
        scale = {"serviceParameters": {"size": "2"}}
        await run_operation(client, "POST", f"{INSTANCES}/Beta/scale", json=scale)
    # With the worker gone, the last job stays NEW.
    idle = client_for(await start_app(run_worker=False))
    assert await create_cache(idle, "Delta") == 6
    set_start_dates(sqlite_path, {job_id: _ms(job[3]) for job_id, job in JOBS.items()})
    return idle


async def _job_ids(client: httpx.AsyncClient, params: object) -> tuple[list[int], int]:
    response = await client.get(FILTER, params=params)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    page = response.json()
    return [entry["jobId"] for entry in page["activityLogs"]], page["totalCount"]


async def _issues(client: httpx.AsyncClient, params: object) -> list[str]:
    response = await client.get(FILTER, params=params)  # type: ignore[arg-type]
    assert response.status_code == 400, response.text
    body = response.json()
    assert list(body) == ["status", "details"]
    assert body["status"] == "400"
    assert body["details"]["message"] == "Invalid filter parameters."
    issues: list[str] = body["details"]["issues"]
    return issues


async def test_page_shape_entries_are_job_bodies(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get(FILTER)

    assert response.status_code == 200
    page = response.json()
    assert list(page) == ["activityLogs", "totalCount"]
    assert response.text == json.dumps(page, separators=(",", ":"), ensure_ascii=False)
    assert page["totalCount"] == 6
    for entry in page["activityLogs"]:
        service, operation, status, start = JOBS[entry["jobId"]]
        assert list(entry) == (RUNNING_JOB_KEYS if status == "NEW" else JOB_KEYS)
        assert (entry["serviceName"], entry["operationType"], entry["status"]) == (
            service,
            operation,
            status,
        )
        assert entry["startDate"] == start.replace("+00:00", "+0000")
        job = await seeded.get(f"{JOB_PREFIX}/job/{entry['jobId']}")
        assert job.json() == entry


async def test_default_order_is_newest_first(seeded: httpx.AsyncClient) -> None:
    assert await _job_ids(seeded, {}) == (NEWEST_FIRST, 6)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"serviceName": "Alpha"}, [3, 1]),
        ({"serviceName": "alpha"}, []),
        ({"serviceName": "Beta", "fromStartDate": "2017-04-12"}, [5]),
        ({"serviceType": "caching"}, NEWEST_FIRST),
        ({"serviceType": "jaas"}, []),
        ({"status": "NEW"}, [6]),
        ({"status": "SUCCEED"}, [5, 4, 3, 2, 1]),
        ([("status", "NEW"), ("status", "SUCCEED")], NEWEST_FIRST),
        ({"status": "NEW,SUCCEED"}, NEWEST_FIRST),
        ([("status", "RUNNING"), ("status", "FAILED"), ("status", "WARN")], []),
        ({"operationType": "CREATE_SERVICE"}, [6, 4, 2, 1]),
        ([("operationType", "STOP_SERVICE"), ("operationType", "SCALE_SERVICE")], [5, 3]),
        ({"operationType": "STOP_SERVICE,SCALE_SERVICE"}, [5, 3]),
        ({"operationType": "BACKUP"}, []),
        ([("status", "SUCCEED"), ("operationType", "CREATE_SERVICE")], [4, 2, 1]),
    ],
)
async def test_filters_select_exact_matches(
    seeded: httpx.AsyncClient, params: object, expected: list[int]
) -> None:
    assert await _job_ids(seeded, params) == (expected, len(expected))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"fromStartDate": "2017-04-12"}, [6, 5, 4, 3]),
        # A bare date as the upper bound covers that whole day, up to 23:59:59.999.
        ({"toStartDate": "2017-04-12"}, [4, 3, 2, 1]),
        ({"fromStartDate": "2017-04-12", "toStartDate": "2017-04-12"}, [4, 3]),
        ({"fromStartDate": "2017-04-12T16:01:28.238+0000"}, [6, 5, 4, 3]),
        ({"fromStartDate": "2017-04-12T16:01:28.239+0000"}, [6, 5, 4]),
        ({"toStartDate": "2017-04-12T16:01:28.238+0000"}, [3, 2, 1]),
        ({"toStartDate": "2017-04-12T16:01:28.237+0000"}, [2, 1]),
        ({"fromStartDate": "2017-04-12T18:01:28.238+0200"}, [6, 5, 4, 3]),
        ({"fromStartDate": "2017-04-12T11:01:28.239-0500"}, [6, 5, 4]),
        ({"fromStartDate": "2017-04-12T16:01:28.238Z"}, [6, 5, 4, 3]),
        ({"toStartDate": "2017-04-12 16:01:28"}, [2, 1]),
        ({"fromStartDate": "2017-04-12 16:01:29"}, [6, 5, 4]),
        ({"fromStartDate": "2017-04-12T16:01:29"}, [6, 5, 4]),
        ({"toStartDate": "2017-04-13T00:00:00"}, [5, 4, 3, 2, 1]),
        ({"fromStartDate": "2017-04-15"}, []),
    ],
)
async def test_date_bounds_are_inclusive_and_utc(
    seeded: httpx.AsyncClient, params: dict[str, str], expected: list[int]
) -> None:
    assert await _job_ids(seeded, params) == (expected, len(expected))


async def test_unencoded_plus_in_zone_still_reads(seeded: httpx.AsyncClient) -> None:
    # curl users paste the PSM format as is; the query string decodes its `+` to a space.
    response = await seeded.get(f"{FILTER}?fromStartDate=2017-04-12T16:01:28.239+0000")

    assert response.status_code == 200, response.text
    assert [entry["jobId"] for entry in response.json()["activityLogs"]] == [6, 5, 4]


@pytest.mark.parametrize(
    "text",
    [
        "12/04/2017",
        "yesterday",
        "2017-13-01",
        "2017-02-30",
        "2017-04-12T25:00:00",
        "2017-04-12T16:01:28+0099",
        "2017-04-12T16:01",
        "\u0662\u0660\u0661\u0667-\u0660\u0664-\u0661\u0662",  # Arabic-Indic digits
    ],
)
async def test_unreadable_date_is_400(seeded: httpx.AsyncClient, text: str) -> None:
    assert await _issues(seeded, {"toStartDate": text}) == [
        f"toStartDate: cannot read {text!r}; {DATE_HINT}"
    ]


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        ("startDate:asc", [1, 2, 3, 4, 5, 6]),
        ("startDate:desc", NEWEST_FIRST),
        ("serviceName:asc", [1, 3, 2, 5, 6, 4]),
        ("serviceName:desc", [4, 6, 5, 2, 3, 1]),
        ("operationType:asc,startDate:desc", [6, 4, 2, 1, 5, 3]),
        ("status:asc", [6, 1, 2, 3, 4, 5]),
        ("jobId:desc", NEWEST_FIRST),
        ("activityLogId:asc", [1, 2, 3, 4, 5, 6]),
        # A job that has not ended sorts last either way.
        ("endDate:asc", [1, 2, 3, 4, 5, 6]),
        ("endDate:desc", [5, 4, 3, 2, 1, 6]),
    ],
)
async def test_order_by_whitelisted_fields(
    seeded: httpx.AsyncClient, order_by: str, expected: list[int]
) -> None:
    assert await _job_ids(seeded, {"orderBy": order_by}) == (expected, 6)


@pytest.mark.parametrize(
    ("order_by", "issue"),
    [
        ("password:asc", f"orderBy: cannot order by 'password'; use one of {FIELDS}"),
        ("start_date:asc", f"orderBy: cannot order by 'start_date'; use one of {FIELDS}"),
        ("serviceName:up", "orderBy: direction must be asc or desc, got 'up'"),
        ("serviceName:asc;drop", "orderBy: direction must be asc or desc, got 'asc;drop'"),
    ],
)
async def test_order_by_outside_the_whitelist_is_400(
    seeded: httpx.AsyncClient, order_by: str, issue: str
) -> None:
    assert await _issues(seeded, {"orderBy": order_by}) == [issue]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"limit": "2"}, [6, 5]),
        ({"limit": "2", "offset": "2"}, [4, 3]),
        ({"offset": "4"}, [2, 1]),
        ({"offset": "6"}, []),
        ({"limit": "0"}, []),
        ({"limit": "5000"}, NEWEST_FIRST),
        ({"offset": str(MAX_BIGINT)}, []),
        ({"limit": "2", "orderBy": "startDate:asc", "status": "SUCCEED"}, [1, 2]),
    ],
)
async def test_total_count_counts_every_match_before_paging(
    seeded: httpx.AsyncClient, params: dict[str, str], expected: list[int]
) -> None:
    ids, total = await _job_ids(seeded, params)

    assert ids == expected
    assert total == (5 if "status" in params else 6)


@pytest.mark.parametrize(
    ("params", "issues"),
    [
        ({"limit": "-1"}, [f"limit: expected a whole number from 0 to {MAX_BIGINT}, got '-1'"]),
        ({"offset": "x"}, [f"offset: expected a whole number from 0 to {MAX_BIGINT}, got 'x'"]),
        (
            {"limit": "1.5", "offset": "-3"},
            [
                f"limit: expected a whole number from 0 to {MAX_BIGINT}, got '1.5'",
                f"offset: expected a whole number from 0 to {MAX_BIGINT}, got '-3'",
            ],
        ),
        (
            {"offset": str(MAX_BIGINT + 1)},
            [f"offset: expected a whole number from 0 to {MAX_BIGINT}, got '{MAX_BIGINT + 1}'"],
        ),
    ],
)
async def test_bad_paging_is_400_listing_each_problem(
    seeded: httpx.AsyncClient, params: dict[str, str], issues: list[str]
) -> None:
    assert await _issues(seeded, params) == issues


async def test_offset_of_thousands_of_digits_is_400(seeded: httpx.AsyncClient) -> None:
    issues = await _issues(seeded, {"offset": "9" * 5000})

    assert len(issues) == 1
    assert issues[0].startswith("offset: expected a whole number from 0 to")


async def test_every_problem_is_listed_at_once(seeded: httpx.AsyncClient) -> None:
    params = [
        ("status", "BAD"),
        ("status", "NEW"),
        ("fromStartDate", "yesterday"),
        ("orderBy", "foo:up,serviceName:sideways"),
        ("limit", "-1"),
        ("offset", "x"),
    ]

    assert await _issues(seeded, params) == [
        "status: unknown value 'BAD'; use one of NEW, RUNNING, SUCCEED, FAILED, WARN",
        f"fromStartDate: cannot read 'yesterday'; {DATE_HINT}",
        f"orderBy: cannot order by 'foo'; use one of {FIELDS}",
        "orderBy: direction must be asc or desc, got 'sideways'",
        f"limit: expected a whole number from 0 to {MAX_BIGINT}, got '-1'",
        f"offset: expected a whole number from 0 to {MAX_BIGINT}, got 'x'",
    ]


async def test_python_script_check_service_since_a_date(seeded: httpx.AsyncClient) -> None:
    response = await seeded.get(f"{FILTER}?serviceName=Alpha&fromStartDate=2017-04-10")

    assert response.status_code == 200
    assert [entry["jobId"] for entry in response.json()["activityLogs"]] == [3, 1]
