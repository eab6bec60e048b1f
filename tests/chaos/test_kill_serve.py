"""`activitylog serve` killed with SIGKILL 20 times while clients submit operations, restarted on
the same database each time: every acknowledged submission has exactly one job, which runs to
an end; no attempt ran twice, and no two attempts' messages interleave."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Callable

import pytest

from tests.chaos.conftest import (
    Processes,
    Submitter,
    all_jobs,
    assert_every_acknowledged_job_ran_once,
)
from tests.e2e.conftest import RunningServer

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

KILLS = 20
CLIENTS = 4
SERVE = ("--concurrency", "16")


async def submit_while_killing(processes: Processes) -> tuple[Submitter, RunningServer]:
    server = processes.serve(*SERVE)
    submitter = Submitter(lambda: server.url)
    names = (f"cache{index}" for index in itertools.count())
    stop = asyncio.Event()
    chance = random.Random(20)  # noqa: S311 - when to kill, not a secret

    async def client() -> None:
        while not stop.is_set():
            await submitter.create(next(names), steps="3", delay="0.1")
            await asyncio.sleep(0.05)  # about what the server runs: no backlog builds up

    clients = [asyncio.create_task(client()) for _ in range(CLIENTS)]
    for _ in range(KILLS):
        await asyncio.sleep(chance.uniform(0.3, 0.6))
        processes.kill(server.process)
        server = await asyncio.to_thread(processes.serve, *SERVE)
    stop.set()
    await asyncio.gather(*clients)  # each finishes the submission it had begun
    return submitter, server


def test_killing_the_server_loses_and_doubles_nothing(
    processes_for: Callable[..., Processes], chaos_db: str
) -> None:
    processes = processes_for(chaos_db)

    submitter, server = asyncio.run(submit_while_killing(processes))
    jobs = all_jobs(server.url)

    assert len(submitter.acknowledged) > KILLS
    assert_every_acknowledged_job_ran_once(jobs, submitter.acknowledged)
    # The kills did hit running jobs: some were rescued and retried or failed.
    assert any("Worker lost (lease expired)" in str(job["messages"]) for job in jobs)
