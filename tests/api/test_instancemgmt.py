"""The write side, .../instancemgmt/{domain}/services/{type}/instances: 202s, views and refusals."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from tests.api.conftest import (
    ClientFor,
    StartApp,
    create_cache,
    run_operation,
    running_cache,
    store_of,
    store_snapshot,
    wait_for_status,
)
from tests.conftest import DOMAIN, INSTANCES, JOB_PREFIX, USER, add_tenant

pytestmark = pytest.mark.anyio

ORACLE_JSON = "application/vnd.com.oracle.oracloud.provisioning.Service+json"
INSTANCE_KEYS = [
    "serviceId",
    "serviceName",
    "serviceType",
    "identityDomain",
    "description",
    "status",
    "state",
    "creator",
    "creationDate",
    "lastModifiedDate",
    "serviceParameters",
    "domainName",
    "serviceDescription",
    "serviceStateDisplayName",
]
SIZE_ISSUE = "serviceParameters.size: expected whole gigabytes from 1 to 64, got {!r}"
NAME_ISSUE = (
    "serviceParameters.serviceName: expected a letter followed by up to 49 letters, digits or "
    "hyphens, got {!r}"
)
NAME_REQUIRED = "serviceParameters.serviceName: is required"
NO_MYCACHE = f"No caching service [{{}}] in identity domain [{DOMAIN}]."
NO_TYPE = "No service type [nope] is configured here (configured: caching)."


def _submitted(verb: str, job_id: int, name: str = "MyCache") -> str:
    message = f"Submitted job to {verb} service [{name}] in domain [{DOMAIN}]."
    return json.dumps(
        {"details": {"message": message, "jobId": str(job_id)}}, separators=(",", ":")
    )


def _error(status: int, message: str, issues: list[str] | None = None) -> dict[str, Any]:
    details: dict[str, Any] = {"message": message}
    if issues is not None:
        details["issues"] = issues
    return {"status": str(status), "details": details}


async def _view(client: httpx.AsyncClient, name: str = "MyCache") -> dict[str, Any]:
    response = await client.get(f"{INSTANCES}/{name}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_create_answers_202_with_location_and_scrapable_body(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "MyCache"}})

    assert response.status_code == 202
    assert response.headers["content-type"] == "application/json"
    # No --public-url and no trusted hosts: the address served on, never the Host header.
    assert response.headers["location"] == f"http://127.0.0.1:8080{JOB_PREFIX}/job/1"
    assert response.text == (
        '{"details":{"message":"Submitted job to create service [MyCache] in domain '
        '[ExampleIdentityDomain].","jobId":"1"}}'
    )
    # Shell scripts take the job id from the second comma-separated fragment.
    assert response.text.split(",")[1] == '"jobId":"1"}}'


@pytest.mark.parametrize("public_url", ["https://psm.example.com", "https://psm.example.com/"])
async def test_location_uses_the_configured_public_url(
    start_app: StartApp, client_for: ClientFor, public_url: str
) -> None:
    client = client_for(await start_app(public_url=public_url))

    response = await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "MyCache"}})

    assert response.headers["location"] == f"https://psm.example.com{JOB_PREFIX}/job/1"


async def test_location_never_names_a_host_nobody_trusted(
    start_app: StartApp, client_for: ClientFor
) -> None:
    every_interface = "0.0.0.0"  # noqa: S104 - never bound: the app runs in-process
    client = client_for(await start_app(host=every_interface, port=9000))

    response = await client.post(
        INSTANCES,
        json={"serviceParameters": {"serviceName": "MyCache"}},
        headers={"Host": "evil.example.com"},
    )

    assert response.status_code == 202
    assert response.headers["location"] == f"http://localhost:9000{JOB_PREFIX}/job/1"


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("psm.example.com", "http://psm.example.com"),
        ("PSM.Example.com:8443", "http://PSM.Example.com:8443"),
        ("evil.example.com", "http://127.0.0.1:8080"),
        ("psm.example.com.evil.example.com", "http://127.0.0.1:8080"),
        ("psm.example.com:80@evil.example.com", "http://127.0.0.1:8080"),
        ("psm.example.com/evil", "http://127.0.0.1:8080"),
    ],
)
async def test_location_names_a_trusted_host_only(
    start_app: StartApp, client_for: ClientFor, host: str, base: str
) -> None:
    client = client_for(await start_app(trusted_hosts=("psm.example.com",)))

    response = await client.post(
        INSTANCES, json={"serviceParameters": {"serviceName": "MyCache"}}, headers={"Host": host}
    )

    assert response.headers["location"] == f"{base}{JOB_PREFIX}/job/1"


async def test_the_public_url_wins_over_a_trusted_host(
    start_app: StartApp, client_for: ClientFor
) -> None:
    client = client_for(
        await start_app(public_url="https://psm.example.com", trusted_hosts=("testserver",))
    )

    response = await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "MyCache"}})

    assert response.headers["location"] == f"https://psm.example.com{JOB_PREFIX}/job/1"


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        ORACLE_JSON,
        ORACLE_JSON.upper(),
        None,
    ],
)
async def test_create_accepts_both_json_media_types(
    client: httpx.AsyncClient, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    body = b'{"serviceParameters":{"serviceName":"MyCache","size":"2"}}'

    response = await client.post(INSTANCES, content=body, headers=headers)

    assert response.status_code == 202, response.text
    job = await wait_for_status(client, 1)
    assert job["operationType"] == "CREATE_SERVICE"
    assert (await _view(client))["serviceParameters"] == {"size": "2"}


async def test_view_and_list_instances(client: httpx.AsyncClient) -> None:
    description = {"serviceName": "MyCache", "serviceDescription": "Sessions", "size": "4"}
    job_id = await run_operation(client, "POST", INSTANCES, json={"serviceParameters": description})
    await running_cache(client, "Another")

    view = await _view(client)
    listed = await client.get(INSTANCES)

    assert list(view) == INSTANCE_KEYS
    created = (await client.get(f"{JOB_PREFIX}/job/{job_id}")).json()
    assert view == {
        "serviceId": created["serviceId"],
        "serviceName": "MyCache",
        "serviceType": "caching",
        "identityDomain": DOMAIN,
        "description": "Sessions",
        "status": "Running",
        "state": "READY",
        "creator": USER,
        "creationDate": created["startDate"],
        "lastModifiedDate": created["endDate"],
        "serviceParameters": {"size": "4"},
        "domainName": DOMAIN,
        "serviceDescription": "Sessions",
        "serviceStateDisplayName": "Ready",
    }
    assert listed.status_code == 200
    assert [service["serviceName"] for service in listed.json()["services"]] == [
        "Another",
        "MyCache",
    ]
    assert listed.json()["services"][1] == view
    for url in (INSTANCES, f"{INSTANCES}/MyCache"):
        head = await client.head(url)
        assert (head.status_code, head.content) == (200, b"")


async def test_instance_being_created_shows_in_progress(idle_client: httpx.AsyncClient) -> None:
    await create_cache(idle_client)

    view = await _view(idle_client)

    assert (view["status"], view["state"], view["serviceParameters"]) == (
        "In Progress",
        "CONFIGURING",
        {"size": "1"},
    )


@pytest.mark.parametrize(("method", "body"), [("PUT", {}), ("DELETE", None)])
async def test_delete_with_put_empty_object_or_delete(
    client: httpx.AsyncClient, method: str, body: dict[str, Any] | None
) -> None:
    await running_cache(client)

    response = await client.request(method, f"{INSTANCES}/MyCache", json=body)

    assert response.status_code == 202
    assert response.text == _submitted("delete", 2)
    job = await wait_for_status(client, 2)
    assert job["operationType"] == "DELETE_SERVICE"
    assert [m["message"] for m in job["messages"]][2:-1] == [
        f"Started operation to delete service [MyCache] in identity domain [{DOMAIN}].",
        "Stopping cache cluster on mycache-cach-1...",
        "Released resources of mycache-cach-1.",
        f"Completed operation to delete service [MyCache] in identity domain [{DOMAIN}].",
    ]
    gone = await client.get(f"{INSTANCES}/MyCache")
    assert gone.status_code == 404
    assert gone.json() == _error(404, NO_MYCACHE.format("MyCache"))
    assert (await client.get(INSTANCES)).json() == {"services": []}
    # A deleted instance frees its name.
    assert await create_cache(client) == 3


@pytest.mark.parametrize(
    ("verb", "operation_type", "status"),
    [("stop", "STOP_SERVICE", "Stopped"), ("restart", "RESTART_SERVICE", "Running")],
)
async def test_host_operations(
    client: httpx.AsyncClient, verb: str, operation_type: str, status: str
) -> None:
    await running_cache(client)

    response = await client.post(
        f"{INSTANCES}/MyCache/hosts/{verb}", json={"allServiceHosts": True}
    )

    assert response.status_code == 202
    assert response.text == _submitted(verb, 2)
    job = await wait_for_status(client, 2)
    assert (job["operationType"], job["summaryMessage"]) == (operation_type, operation_type)
    assert job["messages"][2]["message"] == (
        f"Started operation to {verb} service [MyCache] in identity domain [{DOMAIN}]."
    )
    assert (await _view(client))["status"] == status


async def test_stopped_instance_starts_again(client: httpx.AsyncClient) -> None:
    await running_cache(client)
    stop, start = f"{INSTANCES}/MyCache/hosts/stop", f"{INSTANCES}/MyCache/hosts/start"
    await run_operation(client, "POST", stop, json={"allServiceHosts": True})
    assert (await _view(client))["status"] == "Stopped"

    response = await client.post(start, json={"allServiceHosts": True})

    assert response.status_code == 202
    assert response.text == _submitted("start", 3)
    job = await wait_for_status(client, 3)
    assert job["operationType"] == "START_SERVICE"
    assert (await _view(client))["status"] == "Running"


async def test_scale(client: httpx.AsyncClient) -> None:
    await running_cache(client)

    response = await client.post(
        f"{INSTANCES}/MyCache/scale", json={"serviceParameters": {"size": "2"}}
    )

    assert response.status_code == 202
    assert response.text == _submitted("scale", 2)
    job = await wait_for_status(client, 2)
    assert job["operationType"] == "SCALE_SERVICE"
    assert "Resizing mycache-cach-1 to 2G..." in [m["message"] for m in job["messages"]]
    assert (await _view(client))["serviceParameters"] == {"size": "2"}


@pytest.mark.parametrize(
    ("body", "issues"),
    [
        ({"serviceParameters": {"size": "0"}}, [SIZE_ISSUE.format("0")]),
        ({"serviceParameters": {"size": "65"}}, [SIZE_ISSUE.format("65")]),
        ({"serviceParameters": {"size": "big"}}, [SIZE_ISSUE.format("big")]),
        ({"serviceParameters": {"size": 2.5}}, [SIZE_ISSUE.format(2.5)]),
        ({"serviceParameters": {"size": True}}, [SIZE_ISSUE.format(True)]),
        ({"serviceParameters": {}}, ["serviceParameters.size: required to scale"]),
        ({}, ["serviceParameters.size: required to scale"]),
        ({"serviceParameters": "2"}, ["serviceParameters: expected an object"]),
    ],
)
async def test_invalid_scale_is_400_and_changes_nothing(
    client: httpx.AsyncClient, body: dict[str, Any], issues: list[str]
) -> None:
    await running_cache(client)
    before = await store_snapshot(client)

    response = await client.post(f"{INSTANCES}/MyCache/scale", json=body)

    assert response.status_code == 400
    assert response.json()["details"]["issues"] == issues
    assert await store_snapshot(client) == before


async def test_operation_while_one_is_in_flight_is_409(idle_client: httpx.AsyncClient) -> None:
    await create_cache(idle_client)
    before = await store_snapshot(idle_client)
    in_flight = _error(
        409,
        "Service [MyCache] has operation job [1] in progress; wait for it to end, then retry.",
    )

    for method, path, body in [
        ("POST", "/hosts/stop", {"allServiceHosts": True}),
        ("POST", "/hosts/restart", {}),
        ("POST", "/scale", {"serviceParameters": {"size": "2"}}),
        ("PUT", "", {}),
        ("DELETE", "", None),
    ]:
        response = await idle_client.request(method, f"{INSTANCES}/MyCache{path}", json=body)
        assert response.status_code == 409, (method, path)
        assert response.json() == in_flight
    again = await idle_client.post(
        INSTANCES, json={"serviceParameters": {"serviceName": "MyCache"}}
    )
    assert again.status_code == 409
    assert again.json() == _error(
        409, f"Service [MyCache] already exists in identity domain [{DOMAIN}]."
    )
    assert await store_snapshot(idle_client) == before


async def test_second_operation_while_the_first_runs_is_409(
    start_app: StartApp, client_for: ClientFor
) -> None:
    client = client_for(await start_app(demo_step_delay=0.05))
    await running_cache(client)
    stop = await client.post(f"{INSTANCES}/MyCache/hosts/stop", json={"allServiceHosts": True})
    assert stop.status_code == 202

    restart = await client.post(f"{INSTANCES}/MyCache/hosts/restart", json={})

    assert restart.status_code == 409
    assert restart.json()["details"]["message"].startswith(
        "Service [MyCache] has operation job [2]"
    )
    await wait_for_status(client, 2)
    assert (await _view(client))["status"] == "Stopped"


@pytest.mark.parametrize(
    ("verb", "message"),
    [
        ("start", "Service [MyCache] is running; START_SERVICE needs it to be stopped."),
        ("restart", "Service [MyCache] is stopped; RESTART_SERVICE needs it to be running."),
    ],
)
async def test_operation_the_state_forbids_is_409(
    client: httpx.AsyncClient, verb: str, message: str
) -> None:
    await running_cache(client)
    if verb == "restart":
        await run_operation(client, "POST", f"{INSTANCES}/MyCache/hosts/stop", json={})
    before = await store_snapshot(client)

    response = await client.post(f"{INSTANCES}/MyCache/hosts/{verb}", json={})

    assert response.status_code == 409
    assert response.json() == _error(409, message)
    assert await store_snapshot(client) == before


REQUESTS_ON_NOPE: list[tuple[str, str, Any]] = [
    ("GET", "", None),
    ("POST", "", {"serviceParameters": {"serviceName": "MyCache"}}),
    ("POST", "", []),
    ("GET", "/MyCache", None),
    ("PUT", "/MyCache", {}),
    ("DELETE", "/MyCache", None),
    ("POST", "/MyCache/hosts/stop", {"allServiceHosts": True}),
    ("POST", "/MyCache/scale", {"serviceParameters": {"size": "2"}}),
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS_ON_NOPE)
async def test_unknown_service_type_is_404(
    client: httpx.AsyncClient, method: str, path: str, body: Any
) -> None:
    url = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/nope/instances{path}"

    response = await client.request(method, url, json=body)

    assert response.status_code == 404
    assert response.json() == _error(404, NO_TYPE)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {}),
        ("DELETE", "", None),
        ("POST", "/hosts/start", {"allServiceHosts": True}),
        ("POST", "/hosts/stop", {"allServiceHosts": True}),
        ("POST", "/hosts/restart", {"allServiceHosts": True}),
        ("POST", "/scale", {"serviceParameters": {"size": "2"}}),
    ],
)
@pytest.mark.parametrize("name", ["Nope", "Caf\u00e9", "\u30ad\u30e3\u30c3\u30b7\u30e5"])
async def test_unknown_instance_is_404(
    client: httpx.AsyncClient, method: str, path: str, body: Any, name: str
) -> None:
    await running_cache(client)
    before = await store_snapshot(client)

    response = await client.request(method, f"{INSTANCES}/{name}{path}", json=body)

    assert response.status_code == 404
    assert response.json() == _error(404, NO_MYCACHE.format(name))
    assert await store_snapshot(client) == before


@pytest.mark.parametrize(
    ("body", "message", "issues"),
    [
        ({}, "The service name is required.", [NAME_REQUIRED]),
        ({"serviceParameters": {}}, "The service name is required.", [NAME_REQUIRED]),
        (
            {"serviceParameters": {"serviceName": None}},
            "The service name is required.",
            [NAME_REQUIRED],
        ),
        *(
            (
                {"serviceParameters": {"serviceName": name}},
                "The service name is not valid.",
                [NAME_ISSUE.format(name)],
            )
            for name in [
                "",
                "1abc",
                "My,Cache",
                "My Cache",
                "a" * 51,
                7,
                "Caf\u00e9",
                "\u30ad\u30e3\u30c3\u30b7\u30e5",
                "\uff2dyCache",
            ]
        ),
        (
            {"serviceParameters": {"serviceName": "MyCache", "serviceDescription": 5}},
            "The request is not valid.",
            ["serviceParameters.serviceDescription: expected a string"],
        ),
        (
            {"serviceParameters": {"serviceName": "MyCache", "size": "100"}},
            "The service parameters are not valid for this service type.",
            [SIZE_ISSUE.format("100")],
        ),
        (
            {"serviceParameters": []},
            "The request is not valid.",
            ["serviceParameters: expected an object"],
        ),
        ([], "The body must be a JSON object.", ["body: expected an object"]),
        ("MyCache", "The body must be a JSON object.", ["body: expected an object"]),
    ],
)
async def test_bad_create_body_is_400_listing_issues(
    client: httpx.AsyncClient, body: Any, message: str, issues: list[str]
) -> None:
    before = await store_snapshot(client)

    response = await client.post(INSTANCES, json=body)

    assert response.status_code == 400
    assert response.json() == _error(400, message, issues)
    assert await store_snapshot(client) == before


@pytest.mark.parametrize(
    ("content", "issue"),
    [
        (b"", "body: required"),
        (b"   ", "body: required"),
        (b'{"serviceParameters":', None),
        (b"{'serviceParameters': {}}", None),
        (b'{"serviceName":"Caf\xe9"}', "body: not valid UTF-8"),
        (b"\xff\xfe{}", None),
        (b"[" * 5000 + b"]" * 5000, "body: nested too deeply"),
    ],
)
async def test_malformed_json_is_400(
    client: httpx.AsyncClient, content: bytes, issue: str | None
) -> None:
    before = await store_snapshot(client)

    response = await client.post(
        INSTANCES, content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    details = response.json()["details"]
    if issue == "body: required":
        assert details == {"message": "The request needs a JSON body.", "issues": [issue]}
    else:
        assert details["message"] == "The body is not valid JSON."
        assert len(details["issues"]) == 1
        assert details["issues"][0].startswith("body: ")
        assert issue is None or details["issues"] == [issue]
    assert await store_snapshot(client) == before


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", ""),
        ("POST", "/MyCache/hosts/stop"),
        ("POST", "/MyCache/scale"),
        ("PUT", "/MyCache"),
    ],
)
async def test_other_content_type_is_415(
    client: httpx.AsyncClient, content_type: str, method: str, path: str
) -> None:
    await running_cache(client)
    before = await store_snapshot(client)

    response = await client.request(
        method,
        f"{INSTANCES}{path}",
        content=b'{"serviceParameters":{"serviceName":"Other","size":"2"}}',
        headers={"Content-Type": content_type},
    )

    assert response.status_code == 415
    assert response.json() == _error(
        415, f"Content-Type {content_type!r} is not supported; send application/json."
    )
    assert await store_snapshot(client) == before


@pytest.fixture
async def small_body_client(start_app: StartApp, client_for: ClientFor) -> httpx.AsyncClient:
    return client_for(await start_app(max_body_bytes=200))


def _create_body(description_length: int) -> bytes:
    parameters = {"serviceName": "MyCache", "serviceDescription": "d" * description_length}
    return json.dumps({"serviceParameters": parameters}).encode()


async def test_body_over_the_limit_is_413(small_body_client: httpx.AsyncClient) -> None:
    before = await store_snapshot(small_body_client)
    headers = {"Content-Type": "application/json"}

    declared = await small_body_client.post(INSTANCES, content=_create_body(300), headers=headers)

    async def chunks() -> AsyncIterator[bytes]:
        body = _create_body(300)
        for start in range(0, len(body), 50):
            yield body[start : start + 50]

    streamed = await small_body_client.post(INSTANCES, content=chunks(), headers=headers)

    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json() == _error(413, "The body is larger than 200 bytes.")
    assert "content-length" not in streamed.request.headers
    assert await store_snapshot(small_body_client) == before
    fits = _create_body(200 - len(_create_body(0)))
    assert len(fits) == 200
    assert (
        await small_body_client.post(INSTANCES, content=fits, headers=headers)
    ).status_code == 202


async def test_every_refused_request_leaves_the_store_alone(
    app: Starlette, client: httpx.AsyncClient, client_for: ClientFor
) -> None:
    await running_cache(client)
    await add_tenant(store_of(app), user="viewer@example.com", password="viewerPass", role="viewer")
    viewer = client_for(app, "viewer@example.com", "viewerPass")
    stranger = client_for(app, USER, "wrongPassword")
    before = await store_snapshot(client)

    refusals = [
        (
            await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "Bad,Name"}}),
            400,
        ),
        (await client.post(f"{INSTANCES}/MyCache/scale", json={"serviceParameters": {}}), 400),
        (await stranger.post(INSTANCES, json={"serviceParameters": {"serviceName": "New"}}), 401),
        (await viewer.post(INSTANCES, json={"serviceParameters": {"serviceName": "New"}}), 403),
        (await viewer.delete(f"{INSTANCES}/MyCache"), 403),
        (await client.post(f"{INSTANCES}/Missing/hosts/stop", json={}), 404),
        (await client.post(f"{INSTANCES}/MyCache/hosts/start", json={}), 409),
        (await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "MyCache"}}), 409),
        (await client.post(INSTANCES, content=b"x", headers={"Content-Type": "text/plain"}), 415),
    ]

    assert [response.status_code for response, _ in refusals] == [code for _, code in refusals]
    assert await store_snapshot(client) == before
