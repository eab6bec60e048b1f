"""The redis example's script, run by the command handler as its configuration says, in the
cases the end-to-end test does not reach."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from activitylog.engine.command_handler import CommandFailed, command_handler
from activitylog.engine.service_types_config import CommandConfig, load_config
from activitylog.store.base import Store
from tests.conftest import DOMAIN
from tests.handlers.conftest import ClaimJob, messages_of

EXAMPLE = Path(__file__).parents[2] / "examples" / "redis-caching" / "activitylog.toml"

pytestmark = pytest.mark.anyio


def example_command(tmp_path: Path, **env: str) -> CommandConfig:
    """The example's CREATE_SERVICE command, with its state in tmp_path and ``env`` on top."""
    (caching,) = load_config(EXAMPLE).service_types
    create = next(op for op in caching.operations if op.name == "CREATE_SERVICE")
    assert create.command is not None
    overrides = {"REDIS_CACHING_STATE_DIR": str(tmp_path / "state"), **env}
    return dataclasses.replace(create.command, env={**create.command.env, **overrides})


async def test_a_missing_redis_server_fails_the_job_clearly(
    store: Store, claim_job: ClaimJob, tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "redis-server"
    config = example_command(tmp_path, REDIS_CACHING_SERVER=str(missing))
    context = await claim_job("MyCache", {"size": "1"})

    with pytest.raises(CommandFailed) as failed:
        await command_handler(config)(context)

    assert str(failed.value) == (
        f"command exited with status 1: redis-server not found at {missing}: install it "
        "(Debian: apt-get install redis-server) or set REDIS_CACHING_SERVER in activitylog.toml."
    )
    assert await messages_of(store, context) == [
        f"Started operation to create service [MyCache] in identity domain [{DOMAIN}]."
    ]
    assert not (tmp_path / "state").exists()  # nothing acquired


async def test_names_that_are_no_safe_directory_are_refused(
    claim_job: ClaimJob, tmp_path: Path
) -> None:
    context = await claim_job("../../etc", {"size": "1"})

    with pytest.raises(CommandFailed) as failed:
        await command_handler(example_command(tmp_path))(context)

    assert str(failed.value) == (
        "command exited with status 1: "
        "This example cannot use service name '../../etc' as a directory name."
    )
