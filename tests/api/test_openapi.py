"""GET /openapi.json: a valid OpenAPI 3.1 document that lists every route the app serves."""

from __future__ import annotations

import re
from typing import Any

import httpx
import jsonschema_rs
import pytest
import schemathesis
from starlette.applications import Starlette
from starlette.routing import Route

from activitylog.client import paths
from tests.api.conftest import ClientFor, create_cache, wait_for_status
from tests.conftest import INSTANCES, JOB_PREFIX

pytestmark = pytest.mark.anyio

_PARAMETER = re.compile(r"\{[^}]+\}")


@pytest.fixture
async def document(app: Starlette, client_for: ClientFor) -> dict[str, Any]:
    response = await client_for(app, user=None, tenant=None).get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def _validator(document: dict[str, Any], component: str) -> jsonschema_rs.Validator:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"#/components/schemas/{component}",
        "components": document["components"],
    }
    return jsonschema_rs.validator_for(schema)


async def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    # Raises jsonschema_rs.ValidationError when the document breaks OpenAPI 3.1's own schema.
    schemathesis.openapi.from_dict(document).validate()


async def test_document_lists_every_route_with_its_methods(
    app: Starlette, document: dict[str, Any]
) -> None:
    # Both read activitylog.client.paths: the templates match to their parameters' names.
    served: dict[str, set[str]] = {}
    for route in app.routes:
        if getattr(route, "path", "").startswith("/console"):
            continue  # the web console's pages: HTML for people, not the API
        assert isinstance(route, Route)
        methods = served.setdefault(route.path, set())
        methods |= set(route.methods or ()) - {"HEAD"}
    documented: dict[str, set[str]] = {}
    for path, operations in document["paths"].items():
        # Each service type's paths have its name written in: caching's stand for the route.
        template = path.replace("/services/caching/", "/services/{serviceType}/")
        documented.setdefault(template, set()).update(method.upper() for method in operations)
    # JCS's scale-out and scale-in are served for the service types that declare them; the
    # demo caching does not, so the document (which lists what each type offers) has no path.
    del served[paths.SERVERS]

    assert documented == served


async def test_operations_are_complete_and_consistent(document: dict[str, Any]) -> None:
    operation_ids = []
    for path, operations in document["paths"].items():
        in_template = set(_PARAMETER.findall(path))
        for operation in operations.values():
            operation_ids.append(operation["operationId"])
            declared = {
                "{" + parameter["name"] + "}"
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "path"
            }
            assert declared == in_template, (path, operation["operationId"])
            if operation.get("security") != []:
                assert "401" in operation["responses"], operation["operationId"]
    assert len(operation_ids) == len(set(operation_ids))
    for name in re.findall(r'"#/components/schemas/([^"]+)"', str(document).replace("'", '"')):
        assert name in document["components"]["schemas"]


async def test_each_service_type_publishes_its_declared_parameters(
    document: dict[str, Any],
) -> None:
    instances = "/paas/api/v1.1/instancemgmt/{domain}/services/caching/instances"
    create = document["paths"][instances]["post"]["requestBody"]["content"]["application/json"]
    scale = document["paths"][f"{instances}/{{name}}/scale"]["post"]["requestBody"]
    scale_parameters = scale["content"]["application/json"]["schema"]["properties"]
    size = scale_parameters["serviceParameters"]["properties"]["size"]
    validator = jsonschema_rs.validator_for(size)

    assert create["schema"]["properties"]["serviceParameters"]["required"] == ["serviceName"]
    assert scale_parameters["serviceParameters"]["required"] == ["size"]
    assert [validator.is_valid(v) for v in (1, 64, "1", "64", "007")] == [True] * 5
    assert [validator.is_valid(v) for v in (0, 65, "0", "65", "", "1.5", 1.5, True)] == [False] * 8
    assert not any("{serviceType}" in path for path in document["paths"])


async def test_real_bodies_match_their_schemas(
    document: dict[str, Any], idle_client: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    # A NEW job (no endDate) from a worker-less app, and an ended one from the usual app.
    await create_cache(idle_client)
    new_job = (await idle_client.get(f"{JOB_PREFIX}/job/1")).json()
    ended_job = await wait_for_status(client, await create_cache(client))
    submitted = await client.post(INSTANCES, json={"serviceParameters": {"serviceName": "Other"}})

    samples = {
        "JobBody": [new_job, ended_job],
        "ActivityLogPage": [(await client.get(f"{JOB_PREFIX}/filter")).json()],
        "SubmittedBody": [submitted.json()],
        "InstanceBody": [(await client.get(f"{INSTANCES}/MyCache")).json()],
        "InstanceList": [(await client.get(INSTANCES)).json()],
        "UserList": [(await client.get(f"{JOB_PREFIX}/users")).json()],
        "ErrorBody": [
            (await client.get(f"{JOB_PREFIX}/job/abc")).json(),
            (await client.get(f"{JOB_PREFIX}/job/999")).json(),
        ],
    }
    for component, bodies in samples.items():
        validator = _validator(document, component)
        for body in bodies:
            validator.validate(body)
        assert not validator.is_valid({"unexpected": True} if component != "ErrorBody" else {})


@pytest.mark.parametrize(
    "date", ["0000-01-01", "0001-01-01", "0001-01-01T00:00:00+0100", "9999-12-31T23:59:59-2359"]
)
async def test_the_filter_takes_every_date_its_schema_allows(
    document: dict[str, Any], client: httpx.AsyncClient, date: str
) -> None:
    operation = document["paths"]["/paas/api/v1.1/activitylog/{domain}/filter"]["get"]
    (from_start,) = [p for p in operation["parameters"] if p["name"] == "fromStartDate"]
    allowed = re.search(from_start["schema"]["pattern"], date) is not None

    response = await client.get(f"{JOB_PREFIX}/filter", params={"fromStartDate": date})

    assert response.status_code == (200 if allowed else 400), response.text
    assert allowed == (date != "0000-01-01")
    assert "earliest date is 0001-01-01" in from_start["description"]
