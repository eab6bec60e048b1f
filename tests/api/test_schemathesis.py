"""Schemathesis over /openapi.json against the in-process app, signed in as the demo user.

One test per documented operation and generation mode: a bounded Hypothesis run of valid
(positive) or invalid (negative) requests, every answer checked against the document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from activitylog.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USER
from activitylog.domain.instances import OperationType
from activitylog.engine.registry import default_registry
from activitylog.http.openapi import openapi_document
from activitylog.serving import create_app
from activitylog.settings import Settings
from activitylog.store.records import OperationRequest
from activitylog.store.sqlite import SQLiteStore
from tests.conftest import add_tenant

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 20
SEEDED_INSTANCE = "MyCache"


def _cases() -> list[tuple[str, schemathesis.GenerationMode]]:
    """(operation label, mode) for every operation; negative only where a request has inputs."""
    # The document the app serves, built without starting an app, to name the tests.
    registry = default_registry(Settings())
    document = json.loads(openapi_document([registry.get(n) for n in registry.names()]))
    return [
        (f"{method.upper()} {path}", mode)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for mode in schemathesis.GenerationMode
        if (
            mode is schemathesis.GenerationMode.POSITIVE
            or "parameters" in operation
            or "requestBody" in operation
        )
        # Event streams stay open for minutes by design: tests/api/test_events.py covers them.
        and "text/event-stream" not in json.dumps(operation["responses"].get("200", {}))
    ]


@pytest.fixture
def api_schema(tmp_path: Path) -> OpenApiSchema:
    database = str(tmp_path / "activitylog.db")
    anyio.run(_seed, database)
    app = create_app(Settings(db=database, demo_step_delay=0.0, poll_interval=0.2))
    config = schemathesis.Config.from_dict(
        {"auth": {"basic": {"username": DEMO_USER, "password": DEMO_PASSWORD}}}
    )
    # Loading the document starts the app's lifespan on schemathesis' own event-loop thread;
    # schemathesis' pytest plugin ends it when the test ends.
    schema: OpenApiSchema = schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    return schema


async def _seed(database: str) -> None:
    """The demo tenant (hashed with the fast test parameters) and a cache with a few jobs."""
    store = SQLiteStore(database)
    await store.open()
    try:
        await add_tenant(store, DEMO_DOMAIN, DEMO_USER, DEMO_PASSWORD)
        domain = await store.get_domain(DEMO_DOMAIN)
        assert domain is not None
        for name in (SEEDED_INSTANCE, "Other1", "Other2"):
            await store.submit_operation(
                OperationRequest(
                    domain_id=domain.domain_id,
                    identity_domain=DEMO_DOMAIN,
                    service_type="caching",
                    service_name=name,
                    operation_type=OperationType.CREATE_SERVICE,
                    parameters={"size": "1"},
                    auth_domain=DEMO_DOMAIN,
                    auth_user=DEMO_USER,
                )
            )
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("label", "mode"), [pytest.param(*case, id=f"{case[0]}-{case[1].value}") for case in _cases()]
)
def test_operation_conforms_to_the_document(
    api_schema: OpenApiSchema, label: str, mode: schemathesis.GenerationMode
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, f"the served document lacks {label}"
    # The demo domain gets requests past authentication; valid requests on an instance name the
    # seeded one, since a random name is a 404 and nothing more.
    path_parameters = {"domain": DEMO_DOMAIN}
    if "/instances/{name}" in label and mode is schemathesis.GenerationMode.POSITIVE:
        path_parameters["name"] = SEEDED_INSTANCE
    strategy = operation.as_strategy(
        generation_mode=mode,
        path_parameters=path_parameters,
        headers={"X-ID-TENANT-NAME": DEMO_DOMAIN},
    )

    @hypothesis.given(case=strategy)
    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    def conforms(case: schemathesis.Case[Any]) -> None:
        case.call_and_validate(checks=CHECKS)

    conforms()
