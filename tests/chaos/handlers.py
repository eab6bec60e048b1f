"""The chaos tests' handler: numbered steps that name their attempt and process, so that the
job's log shows whose writes landed, and in what order."""

from __future__ import annotations

import asyncio
import os

from activitylog.engine.handlers import JobContext


async def steps(context: JobContext) -> None:
    """``steps`` lines (parameter, default 3), ``delay`` seconds apart (default 0.1)."""
    count = int(context.parameters.get("steps", 3))
    delay = float(context.parameters.get("delay", 0.1))
    for step in range(1, count + 1):
        await context.log(f"Attempt {context.attempt}: step {step} (process {os.getpid()}).")
        await asyncio.sleep(delay)
