"""Schemathesis over /openapi.json against the in-process app, as an outside run would go:
every check, every phase (examples, coverage, fuzzing, and stateful over the links it infers
from Location headers), every operation, event streams included.

The run signs in as an admin of the demo domain that it cannot change or delete: a wrapper
points any request on that user at another name (a second admin, the demo user, exists).
Bounded by MAX_EXAMPLES per operation and a fixed seed, to stay well under two minutes.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import anyio
import pytest
import schemathesis
import schemathesis.engine
from schemathesis.engine import Status, events
from schemathesis.engine.recorder import ScenarioRecorder
from schemathesis.specs.openapi.schemas import OpenApiSchema
from starlette.types import ASGIApp, Receive, Scope, Send

from activitylog.demo import DEMO_DOMAIN, DEMO_USER
from activitylog.domain.instances import OperationType
from activitylog.serving import create_app
from activitylog.settings import Settings
from activitylog.store.records import OperationRequest
from activitylog.store.sqlite import SQLiteStore
from tests.conftest import add_tenant

MAX_EXAMPLES = 15
SEED = 17
RUN_USER = "schemathesis-run@example.com"
RUN_PASSWORD = "runPassword1"
SEEDED_INSTANCE = "MyCache"


def _config() -> schemathesis.Config:
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "auth": {"basic": {"username": RUN_USER, "password": RUN_PASSWORD}},
            "headers": {"X-ID-TENANT-NAME": DEMO_DOMAIN},
            "parameters": {"path.domain": DEMO_DOMAIN},
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": True, "max-steps": 10},
            },
            "checks": {
                "enabled": True,
                # A valid request may still meet the state: an instance busy or gone (409,
                # 404), an Idempotency-Key reused (422), a cap on held requests (429), a job
                # unchanged since If-None-Match (304).
                "positive_data_acceptance": {
                    "expected-statuses": ["2XX", "304", "401", "403", "404", "409", "422", "429"]
                },
            },
            # A stream of an idle domain sends no event: stop reading it soon.
            "max-stream-events": 5,
            "request-timeout": 2,
            "operations": [
                # Valid requests on an instance name the seeded one: a random name is a 404.
                {
                    "include-path-regex": r"/instances/\{name\}",
                    "parameters": {"path.name": SEEDED_INSTANCE},
                },
                {"include-path-regex": r"/activitylog/\{domain\}/events$", "request-timeout": 1},
            ],
        }
    )


@pytest.fixture
def api_schema(tmp_path: Path) -> OpenApiSchema:
    database = str(tmp_path / "activitylog.db")
    anyio.run(_seed, database)
    # Invalid credentials are part of the run (ignored_auth): answer them at once, unbanned.
    app = create_app(
        Settings(
            db=database,
            demo_step_delay=0.0,
            poll_interval=0.2,
            auth_refusal_delay=0.0,
            auth_max_failures_per_address=0,
            auth_max_failures_per_user=0,
        )
    )
    # Loading the document starts the app's lifespan on schemathesis' own event-loop thread;
    # schemathesis' pytest plugin ends it when the test ends.
    schema: OpenApiSchema = schemathesis.openapi.from_asgi(
        "/openapi.json", _sparing_the_run_user(app), config=_config()
    )
    return schema


def _sparing_the_run_user(app: ASGIApp) -> ASGIApp:
    """The app, with a request on the run's own user (to change or delete it) sent to the
    demo user instead: the same route and answers, and the run keeps its credentials."""
    own = f"/users/{RUN_USER}"

    async def spare(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and unquote(scope["path"]).endswith(own):
            path = unquote(scope["path"]).removesuffix(own) + f"/users/{DEMO_USER}"
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await app(scope, receive, send)

    return spare


async def _seed(database: str) -> None:
    """The demo tenant and its admin, the run's admin, and caches with a few jobs."""
    store = SQLiteStore(database)
    await store.open()
    try:
        await add_tenant(store, DEMO_DOMAIN, DEMO_USER, "demoPassword1")
        await add_tenant(store, DEMO_DOMAIN, RUN_USER, RUN_PASSWORD)
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


def test_every_operation_and_sequence_conforms_to_the_document(api_schema: OpenApiSchema) -> None:
    failures: list[str] = []
    for event in schemathesis.engine.from_schema(api_schema).execute():
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            failures.extend(_failed_checks(event.recorder))
        elif isinstance(event, events.NonFatalError):
            failures.append(f"{event.label}: {event.info.title}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.EngineFinished):
            failures.extend(f"after the run: {failure.title}" for failure in event.failures)

    assert not failures, "\n".join(dict.fromkeys(failures))


def _failed_checks(recorder: ScenarioRecorder) -> list[str]:
    failed = []
    for case_id, checks in recorder.checks.items():
        case = recorder.cases[case_id].value
        for check in checks:
            if check.status == Status.FAILURE and check.failure_info is not None:
                title = check.failure_info.failure.title
                failed.append(f"{recorder.label} [{check.name}] {title}: {case.as_curl_command()}")
    return failed
