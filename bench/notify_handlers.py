"""Handlers for bench/notify_latency.py, loaded by the server or worker from PYTHONPATH=bench.

``tick`` appends a message every ``intervalMs`` once its ``goFile`` exists, each naming its
index and the wall clock (epoch ns) just before the append; when done it writes, for every
tick, when the append started and when it had committed to ``recordFile``. ``sit`` does nothing
until it is cancelled: a running job that never changes, for idle waiters to wait on.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from activitylog.engine.handlers import JobContext

_GO_POLL_SECONDS = 0.01


async def tick(context: JobContext) -> None:
    parameters = context.parameters
    interval = int(parameters["intervalMs"]) / 1000
    go_file = Path(str(parameters["goFile"]))
    # The signal comes from another process, so no Event can carry it: look now and then, one
    # short hop into a thread per look, so that a shutdown can still cancel the wait.
    while not await asyncio.to_thread(go_file.exists):  # noqa: ASYNC110
        await asyncio.sleep(_GO_POLL_SECONDS)
    records: list[tuple[int, int, int]] = []
    next_at = time.monotonic()
    for index in range(int(parameters["ticks"])):
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        before = time.time_ns()
        await context.log(f"tick {index} {before}")
        records.append((index, before, time.time_ns()))
    text = "".join(json.dumps(record) + "\n" for record in records)
    await asyncio.to_thread(Path(str(parameters["recordFile"])).write_text, text)


async def sit(context: JobContext) -> None:
    await asyncio.Event().wait()
