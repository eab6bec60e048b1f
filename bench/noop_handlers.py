"""The handler of bench/engine_throughput.py's `noop` service type, loaded by the server or
worker from PYTHONPATH=bench: it returns at once, so that a job costs only the engine's own
durable writes (Activity Submitted, Activity Started, Activity Ended).
"""

from __future__ import annotations

from activitylog.engine.handlers import JobContext


async def noop(context: JobContext) -> None:
    """Nothing to do: the job SUCCEEDs as soon as it has started."""
