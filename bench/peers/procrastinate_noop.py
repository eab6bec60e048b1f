"""procrastinate as a peer: a no-op task, one worker process with ``concurrency=1`` on a fresh
PostgreSQL database (its schema applied by procrastinate), one producer deferring one by one.

Completion times are the ``succeeded`` events procrastinate records in ``procrastinate_events``.

    python -m peers.procrastinate_noop DATABASE_URL    # the worker process (PYTHONPATH=bench)
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.metadata
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

from peers.peer_run import (
    POLL_SECONDS,
    WARM_UP_SECONDS,
    CpuWindow,
    PeerFailed,
    PeerRun,
    PeerSettings,
    backends_of,
    check_running,
    problems_of,
    process_tree,
    this_process,
    worker_process,
)

TASK_NAME = "bench.noop"
SETUP = "worker concurrency 1, PostgreSQL (LISTEN/NOTIFY on)"
_COUNTS = (
    "SELECT count(*) FILTER (WHERE status = 'succeeded'), "
    "count(*) FILTER (WHERE status IN ('failed', 'cancelled', 'aborted')) "
    "FROM procrastinate_jobs WHERE id >= $1"
)
_LAST_SUCCESS = (
    "SELECT extract(epoch FROM max(at))::float8 FROM procrastinate_events "
    "WHERE type = 'succeeded' AND job_id >= $1"
)


def noop() -> None:
    """The task: nothing at all."""


def make_app(database_url: str) -> Any:
    """A procrastinate app with the no-op task; producer and worker build the same one."""
    # Imported here: procrastinate is an optional peer, not a dependency.
    procrastinate = importlib.import_module("procrastinate")
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=database_url))
    app.task(name=TASK_NAME)(noop)
    return app


def measure(settings: PeerSettings) -> PeerRun:
    app = make_app(settings.database_url)
    asyncio.run(_apply_schema(app))
    log = settings.logs / "procrastinate-worker.log"
    with worker_process(["peers.procrastinate_noop", settings.database_url], log) as worker:
        return asyncio.run(_produce_and_wait(app, settings, worker, log))


async def _apply_schema(app: Any) -> None:
    async with app.open_async():
        await app.schema_manager.apply_schema_async()


async def _produce_and_wait(
    app: Any, settings: PeerSettings, worker: subprocess.Popen[bytes], log: Path
) -> PeerRun:
    task = app.tasks[TASK_NAME]
    database = urllib.parse.urlsplit(settings.database_url).path.lstrip("/")
    async with app.open_async():
        reader = await asyncpg.connect(settings.database_url)
        try:
            first = await task.defer_async()
            if not await _wait_until(reader, first, 1, WARM_UP_SECONDS, worker, log):
                raise PeerFailed(f"procrastinate: the warm-up job did not complete (see {log})")
            meter = CpuWindow(
                {
                    "worker": process_tree(worker.pid),
                    "broker": backends_of(database),
                    "client": this_process,
                }
            )
            meter.start()
            started_at = time.time()
            start_id = await task.defer_async()
            for _ in range(settings.operations - 1):
                await task.defer_async()
            enqueued_at = time.time()
            done = await _wait_until(
                reader, start_id, settings.operations, settings.timeout, worker, log
            )
            cpu_percent = meter.stop()
            succeeded, failed = await reader.fetchrow(_COUNTS, start_id)
            last = await reader.fetchval(_LAST_SUCCESS, start_id)
        finally:
            await reader.close()
    return PeerRun(
        peer="procrastinate",
        version=importlib.metadata.version("procrastinate"),
        setup=SETUP,
        operations=settings.operations,
        succeeded=succeeded,
        seconds=last - started_at if last is not None else 0.0,
        enqueue_seconds=enqueued_at - started_at,
        cpu_percent=cpu_percent,
        problems=tuple(problems_of(settings.operations, succeeded, failed, not done)),
    )


async def _wait_until(
    reader: Any,
    start_id: int,
    count: int,
    seconds: float,
    worker: subprocess.Popen[bytes],
    log: Path,
) -> bool:
    """Whether ``count`` jobs from ``start_id`` on ended within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        check_running(worker, log)
        succeeded, failed = await reader.fetchrow(_COUNTS, start_id)
        if succeeded + failed >= count:
            return True
        # Another process completes the jobs: no local event could tell us sooner.
        await asyncio.sleep(POLL_SECONDS)
    return False


def main(argv: Sequence[str]) -> None:
    """The worker process: procrastinate's own worker, one job at a time."""
    (database_url,) = argv
    make_app(database_url).run_worker(concurrency=1)


if __name__ == "__main__":
    main(sys.argv[1:])
