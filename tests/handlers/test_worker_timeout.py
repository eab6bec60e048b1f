"""The worker enforces an operation's timeout: the job ends FAILED, saying so."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from activitylog.engine.command_handler import command_handler
from activitylog.engine.handlers import JobContext, ServiceType, ServiceTypeRegistry
from activitylog.engine.service_types_config import OperationPolicy
from activitylog.engine.worker import Worker
from activitylog.store.base import Store
from activitylog.store.records import JobView, OperationRequest
from tests.conftest import DOMAIN, USER, add_tenant
from tests.handlers.conftest import MakeCommand, WriteScript, read_pid, running

pytestmark = pytest.mark.anyio


async def run_until_ended(store: Store, registry: ServiceTypeRegistry) -> JobView:
    await add_tenant(store)
    domain = await store.get_domain(DOMAIN)
    assert domain is not None
    submitted = await store.submit_operation(
        OperationRequest(
            domain_id=domain.domain_id,
            identity_domain=DOMAIN,
            service_type="caching",
            service_name="SlowCache",
            operation_type="CREATE_SERVICE",
            parameters={},
            auth_domain=DOMAIN,
            auth_user=USER,
        )
    )
    worker = asyncio.create_task(Worker(store, registry, poll_interval=0.05).run())
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            view = await store.get_job(domain.domain_id, submitted.job_id)
            if view is not None and view.end_date is not None:
                return view
            await asyncio.sleep(0.05)
        raise AssertionError("the job did not end")
    finally:
        worker.cancel()
        await asyncio.gather(worker, return_exceptions=True)


async def test_a_command_past_its_timeout_fails_the_job(
    store: Store, write_script: WriteScript, make_command: MakeCommand, tmp_path: Path
) -> None:
    script = write_script("slow.sh", "echo working\necho $$ > parent.pid\nexec sleep 60\n")
    registry = ServiceTypeRegistry(
        [
            ServiceType(
                "caching",
                {"CREATE_SERVICE": command_handler(make_command("/bin/sh", script))},
                policies={"CREATE_SERVICE": OperationPolicy(timeout=0.5)},
            )
        ]
    )

    job = await run_until_ended(store, registry)

    assert job.status == "FAILED"
    assert [m.text for m in job.messages][2:] == [
        "working",
        "Operation CREATE_SERVICE on service [SlowCache] failed: timed out after 0.5 s",
        "Activity Ended",
    ]
    assert not running(read_pid(tmp_path / "parent.pid"))


async def test_no_timeout_by_default(store: Store) -> None:
    async def quick(context: JobContext) -> None:
        await asyncio.sleep(0.1)
        await context.log("done")

    service_type = ServiceType("caching", {"CREATE_SERVICE": quick})
    assert service_type.policy_for("CREATE_SERVICE") == OperationPolicy(None, 1, 0.0)

    job = await run_until_ended(store, ServiceTypeRegistry([service_type]))

    assert job.status == "SUCCEED"
