"""What real PSM clients send and read, driven as they drive it: the Go library behind
Terraform's Oracle PaaS provider (java/, mysql/), a Python PSM test suite, and the JCS and
Cloud Stack job views (issue 17)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import pytest
from starlette.applications import Starlette

from activitylog.engine.handlers import Handler, JobContext, ServiceType, ServiceTypeRegistry
from activitylog.http.job_status_fast_path import JobStatusFastPath
from activitylog.serving import create_app
from activitylog.settings import Settings
from tests.api.conftest import store_of
from tests.conftest import DOMAIN, JOB_PREFIX, PASSWORD, USER, add_tenant, basic_auth

pytestmark = pytest.mark.anyio

BASE_URL = "http://testserver"
API = "/paas/api/v1.1/instancemgmt"
JAAS = f"{API}/{DOMAIN}/services/jaas/instances"
MYSQL = f"{API}/{DOMAIN}/services/MySQLCS/instances"
STACKS = f"{API}/{DOMAIN}/services/cloudstack/instances"
# The Go library's JCS create: a flat body, no serviceParameters.
ONE_COMPONENT = "at least one component, e.g. WLS"
JCS_CREATE = {"serviceName": "MyJcs", "components": {"WLS": {"shape": "VM.Standard2.1"}}}


class Gate:
    """Holds each job of the gated operations until the test opens it."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()

    async def held(self, context: JobContext) -> None:
        await context.log(f"Working on {context.operation_type}.")
        await self.opened.wait()


async def quick(context: JobContext) -> None:
    await context.log(f"Done: {context.operation_type} with {dict(context.parameters)}.")


async def with_warnings(context: JobContext) -> None:
    context.warn("Backup skipped: no storage container configured.")


@dataclasses.dataclass
class Psm:
    client: httpx.AsyncClient
    app: Starlette
    gate: Gate


OpenPsm = Callable[..., Any]


@pytest.fixture
async def open_psm(settings: Settings) -> AsyncIterator[OpenPsm]:
    """An app serving jaas, MySQLCS and cloudstack as a PSM would, with settings overrides."""
    async with contextlib.AsyncExitStack() as stack:

        async def open_app(
            *, warn_as_succeed_types: frozenset[str] = frozenset(), **overrides: Any
        ) -> Psm:
            gate = Gate()
            every: dict[str, Handler] = dict.fromkeys(
                ["CREATE_SERVICE", "DELETE_SERVICE", "SCALE_SERVICE", "SCALE_OUT", "SCALE_IN"],
                quick,
            )
            types = [
                ServiceType(
                    "jaas",
                    {**every, "CREATE_SERVICE": gate.held, "DELETE_SERVICE": gate.held},
                    warn_as_succeed="jaas" in warn_as_succeed_types,
                ),
                ServiceType(
                    "MySQLCS",
                    {**every, "RESTART_SERVICE": with_warnings},
                    warn_as_succeed="MySQLCS" in warn_as_succeed_types,
                ),
                ServiceType("cloudstack", every),
            ]
            app = create_app(
                dataclasses.replace(settings, **overrides), registry=ServiceTypeRegistry(types)
            )
            await stack.enter_async_context(app.router.lifespan_context(app))
            await add_tenant(store_of(app))
            client = httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app, raise_app_exceptions=False),
                base_url=BASE_URL,
                # The Go library's casing of the tenant header.
                headers={"Authorization": basic_auth(USER, PASSWORD), "X-Id-Tenant-Name": DOMAIN},
            )
            stack.push_async_callback(client.aclose)
            return Psm(client, app, gate)

        yield open_app


async def submitted(response: httpx.Response) -> int:
    assert response.status_code == 202, response.text
    return int(response.json()["details"]["jobId"])


async def job_status(client: httpx.AsyncClient, job_id: int) -> str:
    """The Go library's poll: GET the job, read ``status``; anything but 2xx is a failure."""
    response = await client.get(f"{JOB_PREFIX}/job/{job_id}", headers={"Connection": "close"})
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


async def wait_for_job(client: httpx.AsyncClient, job_id: int) -> str:
    """WaitForJobCompletion: only SUCCEED and FAILED end it; NEW, RUNNING, WARN, ... poll on."""
    with anyio.fail_after(5):
        while (status := await job_status(client, job_id)) not in ("SUCCEED", "FAILED"):
            await anyio.sleep(0.01)
    return status


async def running_instance(psm: Psm, url: str, name: str) -> None:
    psm.gate.opened.set()
    job_id = await submitted(await psm.client.post(url, json={"serviceName": name}))
    assert await wait_for_job(psm.client, job_id) == "SUCCEED"


# -- 1. scale up or down at .../hosts/scale, scale out and in at .../servers --------------------


@pytest.mark.parametrize(
    ("url", "body"),
    [
        (JAAS, {"components": {"WLS": {"hosts": ["myjcs-wls-1"], "shape": "VM.Standard2.2"}}}),
        (MYSQL, {"shape": "VM.Standard2.2"}),
    ],
)
async def test_hosts_scale_answers_202_with_a_scale_job(
    open_psm: OpenPsm, url: str, body: dict[str, Any]
) -> None:
    psm = await open_psm()
    await running_instance(psm, url, "MyInstance")

    response = await psm.client.post(f"{url}/MyInstance/hosts/scale", json=body)

    job_id = await submitted(response)
    assert response.json()["details"]["message"] == (
        f"Submitted job to scale service [MyInstance] in domain [{DOMAIN}]."
    )
    assert response.headers["location"].endswith(f"{JOB_PREFIX}/job/{job_id}")
    assert await wait_for_job(psm.client, job_id) == "SUCCEED"
    job = (await psm.client.get(f"{JOB_PREFIX}/job/{job_id}")).json()
    assert job["operationType"] == "SCALE_SERVICE"
    assert f"Done: SCALE_SERVICE with {body}." in [m["message"] for m in job["messages"]]
    view = (await psm.client.get(f"{url}/MyInstance")).json()
    assert view["state"] == "READY"
    assert {key: view["serviceParameters"][key] for key in body} == body


@pytest.mark.parametrize(
    ("body", "issues"),
    [
        ({}, ['body: expected "components", "shape" or "serviceParameters"']),
        ({"shape": ""}, ["shape: expected a shape name, e.g. VM.Standard2.2"]),
        (
            {"components": {}},
            ["components: expected an object naming at least one component, e.g. WLS"],
        ),
        (
            {"components": {"WLS": {"hosts": "h1"}, "OTD": 3}},
            [
                "components.WLS.shape: required, e.g. VM.Standard2.2",
                "components.WLS.hosts: expected a list of host names",
                "components.OTD: expected an object",
            ],
        ),
        ({"serviceParameters": []}, ["serviceParameters: expected an object"]),
    ],
)
async def test_an_invalid_hosts_scale_is_400_listing_issues(
    open_psm: OpenPsm, body: dict[str, Any], issues: list[str]
) -> None:
    psm = await open_psm()
    await running_instance(psm, JAAS, "MyJcs")

    response = await psm.client.post(f"{JAAS}/MyJcs/hosts/scale", json=body)

    assert response.status_code == 400
    assert response.json() == {
        "status": "400",
        "details": {"message": "The scale request is not valid.", "issues": issues},
    }
    jobs = (await psm.client.get(f"{JOB_PREFIX}/filter")).json()
    assert jobs["totalCount"] == 1  # the create only


@pytest.mark.parametrize(("method", "operation"), [("POST", "SCALE_OUT"), ("PUT", "SCALE_IN")])
async def test_jcs_scale_out_and_in_at_servers(
    open_psm: OpenPsm, method: str, operation: str
) -> None:
    psm = await open_psm()
    await running_instance(psm, JAAS, "MyJcs")
    body = {"components": {"WLS": {"managedServerCount": 1}}}

    job_id = await submitted(await psm.client.request(method, f"{JAAS}/MyJcs/servers", json=body))

    assert await wait_for_job(psm.client, job_id) == "SUCCEED"
    assert (await psm.client.get(f"{JOB_PREFIX}/job/{job_id}")).json()["operationType"] == operation


async def test_scale_out_of_a_type_without_it_is_404(open_psm: OpenPsm) -> None:
    psm = await open_psm()
    await running_instance(psm, f"{API}/{DOMAIN}/services/cloudstack/instances", "MyStack")
    url = f"{API}/{DOMAIN}/services/cloudstack/instances/MyStack/hosts/scale"

    response = await psm.client.post(url, json={"shape": "VM.Standard2.2"})

    assert response.status_code == 202  # cloudstack offers SCALE_SERVICE...
    restart = await psm.client.post(url.replace("/scale", "/restart"), json={})
    assert restart.status_code == 404  # ...but not RESTART_SERVICE
    assert restart.json()["details"]["message"] == (
        "Service type [cloudstack] has no RESTART_SERVICE operation."
    )


# -- 2. PSM's instance states, as the Go library waits on them ----------------------------------


async def instance_state(client: httpx.AsyncClient, url: str) -> str | None:
    """GetServiceInstance: the view's ``state``, or None once the instance is gone (404)."""
    response = await client.get(url)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    state: str = response.json()["state"]
    return state


async def test_an_instance_goes_configuring_ready_terminating_then_404(open_psm: OpenPsm) -> None:
    psm = await open_psm()
    url = f"{JAAS}/MyJcs"

    await submitted(await psm.client.post(JAAS, json=JCS_CREATE))
    seen = [await instance_state(psm.client, url)]
    psm.gate.opened.set()
    with anyio.fail_after(5):  # WaitForServiceInstanceState: READY ends the create's wait
        while (state := await instance_state(psm.client, url)) != "READY":
            seen.append(state)
            await anyio.sleep(0.01)
    seen.append(state)
    psm.gate.opened.clear()
    await submitted(await psm.client.put(url, json={"dbaName": "sys", "dbaPassword": "x"}))
    seen.append(await instance_state(psm.client, url))
    psm.gate.opened.set()
    with anyio.fail_after(5):  # waitForServiceInstanceDeleted: only a 404 ends it
        while (state := await instance_state(psm.client, url)) is not None:
            seen.append(state)
            await anyio.sleep(0.01)

    assert list(dict.fromkeys(seen)) == ["CONFIGURING", "READY", "TERMINATING"]


async def test_the_view_carries_the_fields_the_go_models_read(open_psm: OpenPsm) -> None:
    psm = await open_psm()
    await running_instance(psm, MYSQL, "MyDb")

    view = (await psm.client.get(f"{MYSQL}/MyDb")).json()

    assert isinstance(view["serviceId"], int)  # the mysql models decode it weakly, as a string
    assert (view["serviceName"], view["serviceType"], view["domainName"]) == (
        "MyDb",
        "MySQLCS",
        DOMAIN,
    )
    assert (view["state"], view["serviceStateDisplayName"], view["creator"]) == (
        "READY",
        "Ready",
        USER,
    )
    assert "components" not in view  # the Go models would decode ours as theirs, and fail


# -- 3. WARN on the wire, and the switch that reports it as SUCCEED -----------------------------


@pytest.mark.parametrize(
    ("overrides", "types", "wire"),
    [
        ({}, frozenset(), "WARN"),
        ({"warn_as_succeed": True}, frozenset(), "SUCCEED"),
        ({}, frozenset({"MySQLCS"}), "SUCCEED"),
        ({}, frozenset({"jaas"}), "WARN"),
    ],
)
async def test_a_job_that_ended_with_warnings(
    open_psm: OpenPsm, overrides: dict[str, Any], types: frozenset[str], wire: str
) -> None:
    psm = await open_psm(warn_as_succeed_types=types, **overrides)
    job_id = await backup_with_warnings(psm)
    url = f"{JOB_PREFIX}/job/{job_id}"

    # The Starlette route reads and caches the answer, then the fast path answers from it, and
    # a request with a query string goes the slow way again: all three say the same.
    answers = [(await psm.client.get(url)).json() for _ in range(2)]
    answers.append((await psm.client.get(url, params={"sinceMessage": "0"})).json())
    logged = (await psm.client.get(f"{JOB_PREFIX}/filter", params={"serviceName": "MyDb"})).json()
    by_log_id = (await psm.client.get(f"{JOB_PREFIX}/message/{answers[0]['activityLogId']}")).json()

    assert [answer["status"] for answer in answers] == [wire, wire, wire]
    assert answers[0] == answers[1] == answers[2] == by_log_id
    assert logged["activityLogs"][0] == answers[0]
    messages = [m["message"] for m in answers[0]["messages"]]
    assert "Backup skipped: no storage container configured." in messages
    # The store keeps WARN: the filter still finds the job by it.
    by_status = (await psm.client.get(f"{JOB_PREFIX}/filter", params={"status": "WARN"})).json()
    assert [job["jobId"] for job in by_status["activityLogs"]] == [job_id]


async def backup_with_warnings(psm: Psm) -> int:
    """A restart whose handler ends it with a warning (the job ends WARN in the store)."""
    await running_instance(psm, MYSQL, "MyDb")
    job_id = await submitted(
        await psm.client.post(f"{MYSQL}/MyDb/hosts/restart", json={"allServiceHosts": False})
    )
    with anyio.fail_after(5):
        while (await job_status(psm.client, job_id)) in ("NEW", "RUNNING"):
            await anyio.sleep(0.01)
    return job_id


# -- 6. a doubled slash, from a base URL that ends with "/" -------------------------------------


async def test_a_doubled_slash_answers_as_the_single_one(
    open_psm: OpenPsm, monkeypatch: pytest.MonkeyPatch
) -> None:
    psm = await open_psm()
    await running_instance(psm, JAAS, "MyJcs")
    # "//paas/..." alone would read as a URL without a scheme whose host is "paas".
    answered_fast: list[tuple[str, bool]] = []
    answer = JobStatusFastPath.answer

    async def recording_answer(self: JobStatusFastPath, scope: Any, send: Any) -> bool:
        answered = await answer(self, scope, send)
        answered_fast.append((scope["path"], answered))
        return answered

    monkeypatch.setattr(JobStatusFastPath, "answer", recording_answer)
    job = f"{JOB_PREFIX}/job/1"
    single = await psm.client.get(job)

    doubled = [
        await psm.client.get(f"{BASE_URL}/{job}"),  # the fast path: credentials cached by now
        await psm.client.get(f"{BASE_URL}/{job}", params={"sinceMessage": "0"}),  # Starlette's
        await psm.client.get(job.replace("/job/", "//job/")),
    ]
    listed = await psm.client.get(
        f"{BASE_URL}/{JAAS}".replace("/instancemgmt/", "//instancemgmt//")
    )

    assert [(r.status_code, r.json()) for r in doubled] == [(200, single.json())] * 3
    assert (listed.status_code, listed.json()["services"][0]["serviceName"]) == (200, "MyJcs")
    assert answered_fast[1:] == [(job, True), (job, False), (job, True), (JAAS, False)]


# -- the JCS lifecycle status and Cloud Stack's job views ---------------------------------------


async def test_jcs_lifecycle_status_is_202_while_the_job_runs_then_200(open_psm: OpenPsm) -> None:
    psm = await open_psm()
    job_id = await submitted(await psm.client.post(JAAS, json=JCS_CREATE))
    url = f"/paas/service/jcs/api/v1.1/instances/{DOMAIN}/status/create/job/{job_id}"

    running = await psm.client.get(url)
    psm.gate.opened.set()
    await wait_for_job(psm.client, job_id)
    ended = await psm.client.get(url)

    assert running.status_code == 202
    body = running.json()
    assert (body["service_name"], body["identity_domain"], body["status"]) == (
        "MyJcs",
        DOMAIN,
        "In Progress",
    )
    assert body["service_uri"].endswith(f"{JAAS}/MyJcs")
    assert (body["job_id"], body["job_operation"]) == (str(job_id), "CREATE_SERVICE")
    assert body["job_status"] in ("NEW", "RUNNING")
    assert "job_end_date" not in body
    assert body["message"][0] == "Activity Submitted"
    assert ended.status_code == 200
    assert (ended.json()["status"], ended.json()["job_status"]) == ("Running", "SUCCEED")
    assert ended.json()["message"][-1] == "Activity Ended"
    assert "job_end_date" in ended.json()


@pytest.mark.parametrize(
    ("request_name", "job", "status"), [("nope", "1", 400), ("create", "99", 404)]
)
async def test_jcs_lifecycle_status_refusals(
    open_psm: OpenPsm, request_name: str, job: str, status: int
) -> None:
    psm = await open_psm()
    url = f"/paas/service/jcs/api/v1.1/instances/{DOMAIN}/status/{request_name}/job/{job}"

    response = await psm.client.get(url)

    assert (response.status_code, response.json()["status"]) == (status, str(status))


async def test_cloud_stack_job_views(open_psm: OpenPsm) -> None:
    psm = await open_psm()
    await running_instance(psm, STACKS, "MyStack")
    await running_instance(psm, JAAS, "MyJcs")
    scale = await submitted(
        await psm.client.post(f"{STACKS}/MyStack/hosts/scale", json={"shape": "VM.Standard2.2"})
    )
    await wait_for_job(psm.client, scale)

    stack_log = await psm.client.get(f"{JOB_PREFIX}/stack/MyStack")
    stack_job = await psm.client.get(f"{JOB_PREFIX}/stack/job/{scale}")
    not_a_stack_job = await psm.client.get(f"{JOB_PREFIX}/stack/job/2")

    assert stack_log.status_code == 200
    logs = stack_log.json()["activityLogs"]
    assert [(j["serviceType"], j["operationType"]) for j in logs] == [
        ("cloudstack", "SCALE_SERVICE"),
        ("cloudstack", "CREATE_SERVICE"),
    ]
    assert stack_job.status_code == 200
    assert stack_job.json() == (await psm.client.get(f"{JOB_PREFIX}/job/{scale}")).json()
    assert not_a_stack_job.status_code == 404  # job 2 is the jaas create
