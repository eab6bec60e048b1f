"""What a handler reports through FakeJobContext is what it writes through the real JobContext
to a real store: for a Python handler, and for a command handler's stdout protocol."""

from __future__ import annotations

import sys

import pytest

from activitylog.engine.command_handler import command_handler
from activitylog.engine.handlers import Handler, JobContext
from activitylog.store.base import Store
from activitylog.testing import FakeJobContext
from tests.conftest import DOMAIN
from tests.handlers.conftest import ClaimJob, MakeCommand, WriteScript, messages_of
from tests.handlers.sample_handlers import greet

pytestmark = pytest.mark.anyio


async def assert_same_reports(store: Store, claim_job: ClaimJob, handler: Handler) -> None:
    real = await claim_job("MyCache", {"size": "4"})
    fake = FakeJobContext(
        service_name="MyCache",
        service_type="caching",
        identity_domain=DOMAIN,
        parameters={"size": "4"},
        job_id=real.job_id,
    )

    await handler(real)
    await handler(fake)

    assert fake.messages == await messages_of(store, real)
    assert fake.messages  # something was compared
    assert reports(fake) == reports(real)


def reports(context: JobContext) -> tuple[object, ...]:
    return (context.percent_complete, context.final_status, context.closing_messages)


async def test_a_python_handler(store: Store, claim_job: ClaimJob) -> None:
    await assert_same_reports(store, claim_job, greet)


async def test_a_command_handler(
    store: Store, claim_job: ClaimJob, write_script: WriteScript, make_command: MakeCommand
) -> None:
    script = write_script(
        "scale.py",
        """
        import json, os, sys
        job = json.load(sys.stdin)
        print(f"Resizing [{job['serviceName']}] of job {os.environ['ACTIVITYLOG_JOB_ID']}")
        print("::progress 60")
        print(f"to {job['parameters']['size']}G")
        print("::warn the old node is still draining")
        """,
    )
    handler = command_handler(make_command(sys.executable, script))
    await assert_same_reports(store, claim_job, handler)
