"""`handler = "python:package.module:callable"`: found, run, and refused when unusable."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from activitylog import errors
from activitylog.domain.jobs import JobStatus
from activitylog.engine.registry import default_registry
from activitylog.settings import Settings
from activitylog.store.base import Store
from tests.conftest import DOMAIN
from tests.handlers.conftest import ClaimJob, messages_of

OP = "service_types.caching.operations.CREATE_SERVICE"


def config_file(tmp_path: Path, handler: str, extra: str = "") -> Path:
    path = tmp_path / "activitylog.toml"
    path.write_text(
        textwrap.dedent(
            f"""
            [service_types.caching]
            {extra}
            [service_types.caching.operations.CREATE_SERVICE]
            handler = "{handler}"
            timeout = 30
            """
        )
    )
    return path


@pytest.mark.anyio
async def test_a_python_handler_runs_with_its_policy(
    store: Store, claim_job: ClaimJob, tmp_path: Path
) -> None:
    path = config_file(tmp_path, "python:tests.handlers.sample_handlers:greet")
    registry = default_registry(Settings(config=str(path)))
    caching = registry.get("caching")
    context = await claim_job("MyCache", {"size": "4"})

    await caching.handler_for("CREATE_SERVICE")(context)

    assert registry.names() == ["caching"]  # the file replaces the demo
    assert caching.policy_for("CREATE_SERVICE").timeout == 30
    assert await messages_of(store, context) == [
        f"Started operation to back up service [MyCache] in identity domain [{DOMAIN}].",
        "Backed up 4G.",
    ]
    assert context.percent_complete == 50
    assert context.final_status is JobStatus.SUCCEED


def test_parameters_are_validated_by_the_configured_callable(tmp_path: Path) -> None:
    path = config_file(
        tmp_path,
        "python:tests.handlers.sample_handlers:degrade",
        'validate_parameters = "python:tests.handlers.sample_handlers:only_small"',
    )
    caching = default_registry(Settings(config=str(path))).get("caching")

    assert caching.validate_parameters("CREATE_SERVICE", {"size": "1"}) == {"size": "1"}
    with pytest.raises(errors.InvalidParameters):
        caching.validate_parameters("CREATE_SERVICE", {"size": "2"})


def test_without_a_file_the_demo_caching_type_stays() -> None:
    caching = default_registry(Settings()).get("caching")

    assert caching.description.startswith("Demonstration cache service")


@pytest.mark.parametrize(
    ("handler", "problem"),
    [
        (
            "python:tests.handlers.no_such_module:greet",
            "cannot import tests.handlers.no_such_module: "
            "ModuleNotFoundError: No module named 'tests.handlers.no_such_module'",
        ),
        (
            "python:tests.handlers.sample_handlers:nobody",
            "tests.handlers.sample_handlers has no attribute nobody",
        ),
        (
            "python:tests.handlers.sample_handlers:NOT_CALLABLE",
            "python:tests.handlers.sample_handlers:NOT_CALLABLE is not callable",
        ),
    ],
)
def test_an_unusable_reference_fails_at_start_up(
    tmp_path: Path, handler: str, problem: str
) -> None:
    path = config_file(tmp_path, handler)

    with pytest.raises(errors.InvalidConfiguration) as invalid:
        default_registry(Settings(config=str(path)))

    assert invalid.value.message == f"{path}: {OP}.handler: {problem}"
