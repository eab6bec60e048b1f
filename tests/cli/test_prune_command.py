"""`activitylog prune`: what it would remove, what it removes, and the policy from the file."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from click.testing import CliRunner

from activitylog.cli import main
from activitylog.domain.jobs import JobStatus
from activitylog.store.base import open_store
from tests.contract.conftest import DOMAIN, operation


async def _ended_jobs(db: str, count: int, *, service_type: str = "caching") -> None:
    store = open_store(db)
    await store.open()
    try:
        domain = await store.get_domain(DOMAIN) or await store.create_domain(DOMAIN)
        for n in range(count):
            request = operation(domain, f"{service_type}{n}", service_type=service_type)
            await store.submit_operation(request)
            (claimed,) = await store.claim_jobs("cli-test", 30, 1)
            await store.finish_job(claimed, JobStatus.SUCCEED, [])
    finally:
        await store.close()


def _prune(*arguments: str) -> str:
    result = CliRunner().invoke(main, ["prune", *arguments], env={})
    assert result.exit_code == 0, result.output
    return result.output


def test_dry_run_then_prune(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    asyncio.run(_ended_jobs(db, 3))
    time.sleep(1.1)
    dry = _prune("--db", db, "--older-than", "1s", "--dry-run")
    assert f"{DOMAIN}\tcaching\t3 jobs" in dry
    assert "would remove 3 ended jobs" in dry
    assert "removed 3 jobs, 9 messages" in _prune("--db", db, "--older-than", "1s")
    assert "removed 0 jobs" in _prune("--db", db, "--older-than", "1s")


def test_the_policy_of_the_config_file_and_the_domain_option(tmp_path: Path) -> None:
    db = str(tmp_path / "a.db")
    asyncio.run(_ended_jobs(db, 2))
    asyncio.run(_ended_jobs(db, 1, service_type="jaas"))
    config = tmp_path / "activitylog.toml"
    config.write_text("[retention]\n[retention.service_types]\njaas = 0.00001\n")
    time.sleep(1.0)
    # The default (30 days) keeps the caching jobs; jaas is kept for under a second.
    assert "removed 1 jobs" in _prune("--db", db, "--config", str(config))
    assert "removed 0 jobs" in _prune("--db", db, "--older-than", "1s", "--domain", "other")
    assert "removed 2 jobs" in _prune("--db", db, "--older-than", "1s", "--domain", DOMAIN)


def test_a_bad_duration_is_refused() -> None:
    result = CliRunner().invoke(main, ["prune", "--older-than", "30 days"])
    assert result.exit_code == 2
    assert "expected a duration" in result.output
