"""Celery as a peer: a no-op task, Redis as broker and result backend, one prefork worker with
``--concurrency 1`` (issue #7's reference), one producer calling ``delay()`` one by one.

Completion times are the ``date_done`` Celery's Redis backend stores with each result. Every run
has a queue of its own, and its result keys are deleted afterwards: the Redis may be shared.

    python -m peers.celery_noop REDIS_URL QUEUE    # the worker process (PYTHONPATH=bench)
"""

from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import itertools
import secrets
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

from peers.peer_run import (
    WARM_UP_SECONDS,
    CpuWindow,
    PeerFailed,
    PeerRun,
    PeerSettings,
    problems_of,
    process_tree,
    processes_named,
    this_process,
    wait_for,
    worker_process,
)

TASK_NAME = "bench.noop"
SETUP = "prefork --concurrency 1, Redis broker and result backend"
_BATCH = 1000  # keys per Redis command when reading results


def noop() -> None:
    """The task: nothing at all."""


def make_app(redis_url: str, queue: str) -> Any:
    """A Celery app with the no-op task; producer and worker build the same one."""
    # Imported here: Celery is an optional peer, not a dependency (and has no type hints).
    celery = importlib.import_module("celery")
    app = celery.Celery("bench_noop", broker=redis_url, backend=redis_url)
    app.conf.update(task_default_queue=queue, broker_connection_retry_on_startup=True)
    app.task(name=TASK_NAME)(noop)
    return app


def measure(settings: PeerSettings) -> PeerRun:
    queue = f"bench_noop_{secrets.token_hex(4)}"
    app = make_app(settings.redis_url, queue)
    task, backend = app.tasks[TASK_NAME], app.backend
    log = settings.logs / "celery-worker.log"
    ids: list[str] = []
    try:
        with worker_process(["peers.celery_noop", settings.redis_url, queue], log) as worker:
            # Polled through the result's state (a GET), not .get(): that would subscribe the
            # producer to every later task's result channel, an extra round trip per delay().
            first = task.delay()
            ids.append(first.id)
            if not wait_for(lambda: first.state == "SUCCESS", WARM_UP_SECONDS, worker, log):
                raise PeerFailed(f"celery: the warm-up task did not complete (see {log})")
            meter = CpuWindow(
                {
                    "worker": process_tree(worker.pid),
                    "broker": processes_named("redis-server"),
                    "client": this_process,
                }
            )
            meter.start()
            started_at = time.time()
            for _ in range(settings.operations):
                ids.append(task.delay().id)  # noqa: PERF401 - one by one, as a producer would
            enqueued_at = time.time()
            keys = [backend.get_key_for_task(task_id) for task_id in ids[1:]]
            done = lambda: _stored(backend.client, keys) >= len(keys)  # noqa: E731
            timed_out = not wait_for(done, settings.timeout, worker, log)
            cpu_percent = meter.stop()
        metas = [backend.decode_result(value) for value in _values(backend.client, keys) if value]
    finally:
        _forget(backend.client, [backend.get_key_for_task(task_id) for task_id in ids], queue)
    succeeded = [meta for meta in metas if meta["status"] == "SUCCESS"]
    ends = [datetime.datetime.fromisoformat(meta["date_done"]).timestamp() for meta in succeeded]
    return PeerRun(
        peer="celery",
        version=importlib.metadata.version("celery"),
        setup=SETUP,
        operations=settings.operations,
        succeeded=len(succeeded),
        seconds=max(ends) - started_at if ends else 0.0,
        enqueue_seconds=enqueued_at - started_at,
        cpu_percent=cpu_percent,
        problems=tuple(
            problems_of(settings.operations, len(succeeded), len(metas) - len(succeeded), timed_out)
        ),
    )


def _batches(keys: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(keys), _BATCH):
        yield keys[start : start + _BATCH]


def _stored(client: Any, keys: Sequence[Any]) -> int:
    """How many of the results are stored (Celery stores a result once its task ended)."""
    return sum(int(client.exists(*batch)) for batch in _batches(keys))


def _values(client: Any, keys: Sequence[Any]) -> list[Any]:
    return list(itertools.chain.from_iterable(client.mget(batch) for batch in _batches(keys)))


def _forget(client: Any, keys: Sequence[Any], queue: str) -> None:
    """Delete the run's results, its queue and the queue's binding from the (shared) Redis."""
    for batch in _batches(keys):
        client.delete(*batch)
    client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")


def main(argv: Sequence[str]) -> None:
    """The worker process: ``celery worker`` on the run's queue, through Celery's own CLI."""
    redis_url, queue = argv
    app = make_app(redis_url, queue)
    # Otherwise Celery's defaults, as in the reference measurement.
    app.worker_main(
        ["worker", "--pool=prefork", "--concurrency=1", f"--queues={queue}", "--loglevel=WARNING"]
    )


if __name__ == "__main__":
    main(sys.argv[1:])
