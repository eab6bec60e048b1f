"""Fixtures for handler tests: real jobs in a real SQLite store, and scripts in tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from activitylog.engine.handlers import JobContext
from activitylog.engine.service_types_config import CommandConfig
from activitylog.store.base import Store
from activitylog.store.records import OperationRequest
from tests.conftest import DOMAIN, USER, add_tenant, claim_next_job

ClaimJob = Callable[..., Awaitable[JobContext]]
WriteScript = Callable[[str, str], Path]
MakeCommand = Callable[..., CommandConfig]


@pytest.fixture
async def claim_job(store: Store) -> ClaimJob:
    """Submit a CREATE_SERVICE job and claim it; return the context a handler would get."""
    await add_tenant(store)
    domain = await store.get_domain(DOMAIN)
    assert domain is not None

    async def claim(
        service_name: str = "MyCache", parameters: dict[str, Any] | None = None
    ) -> JobContext:
        await store.submit_operation(
            OperationRequest(
                domain_id=domain.domain_id,
                identity_domain=DOMAIN,
                service_type="caching",
                service_name=service_name,
                operation_type="CREATE_SERVICE",
                parameters=parameters if parameters is not None else {"size": "2"},
                auth_domain=DOMAIN,
                auth_user=USER,
            )
        )
        job = await claim_next_job(store, "handler-tests", 60.0)
        assert job is not None
        return JobContext(store, job)

    return claim


async def messages_of(store: Store, context: JobContext) -> list[str]:
    """The job's messages after `Activity Submitted` and `Activity Started`."""
    domain = await store.get_domain(context.identity_domain)
    assert domain is not None
    view = await store.get_job(domain.domain_id, context.job_id)
    assert view is not None
    return [message.text for message in view.messages][2:]


@pytest.fixture
def write_script(tmp_path: Path) -> WriteScript:
    """Write an executable script into tmp_path: write(name, body) -> its path."""

    def write(name: str, body: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(body).lstrip())
        path.chmod(0o755)
        return path

    return write


@pytest.fixture
def make_command(tmp_path: Path) -> MakeCommand:
    """A CommandConfig running in tmp_path, with a short kill grace."""

    def make(*argv: str | Path, **overrides: Any) -> CommandConfig:
        options: dict[str, Any] = {"cwd": tmp_path, "kill_grace": 0.5, **overrides}
        return CommandConfig(argv=tuple(str(a) for a in argv), **options)

    return make


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie (this init does not always reap)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] not in {"Z", "X"}


def read_pid(path: Path) -> int:
    return int(path.read_text().strip())
