"""The demonstration ``caching`` service type: realistic activity, and nothing provisioned.

It walks through the steps PSM's cache service reports, pausing between them, so that the
API, the engine and clients can be tried end to end. Real handlers plug in the same way, and
people copy it: so it heeds a cancellation as a real handler should, at the next step.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from activitylog import errors
from activitylog.domain.instances import OperationType
from activitylog.domain.jobs import JobStatus
from activitylog.domain.parameters import DeclaredParameter, whole_number
from activitylog.engine.handlers import Handler, JobContext, ServiceType

MAX_SIZE_GB = 64
SIZE = DeclaredParameter(
    "size",
    "integer",
    description=f"Whole gigabytes, 1 to {MAX_SIZE_GB}; 1 when a create leaves it out.",
    required_for=frozenset({OperationType.SCALE_SERVICE.value}),
    minimum=1,
    maximum=MAX_SIZE_GB,
)


def validate_caching_parameters(
    operation_type: str, parameters: Mapping[str, Any]
) -> dict[str, Any]:
    """Check ``size`` (whole gigabytes, 1 to 64; a string, as PSM sends it, or a number)."""
    cleaned = dict(parameters)
    needs_size = operation_type == OperationType.SCALE_SERVICE
    if "size" not in parameters:
        if needs_size:
            raise errors.InvalidParameters(issues=["serviceParameters.size: required to scale"])
        if operation_type == OperationType.CREATE_SERVICE:
            cleaned["size"] = "1"
        return cleaned
    size = parameters["size"]
    gigabytes = _whole_gigabytes(size)
    if gigabytes is None:
        raise errors.InvalidParameters(
            issues=[
                f"serviceParameters.size: expected whole gigabytes from 1 to {MAX_SIZE_GB}, "
                f"got {_shown(size)}"
            ]
        )
    cleaned["size"] = str(gigabytes)
    # A scale changes the size and nothing else: any other key would be merged into the
    # instance's stored parameters.
    if operation_type == OperationType.SCALE_SERVICE:
        return {"size": cleaned["size"]}
    return cleaned


def _whole_gigabytes(size: object) -> int | None:
    """``size`` as gigabytes from 1 to MAX_SIZE_GB, or None: what SIZE declares (a JSON
    integer, 2.0 included, or a string of digits)."""
    gigabytes = whole_number(size)
    return gigabytes if gigabytes is not None and 1 <= gigabytes <= MAX_SIZE_GB else None


def _shown(value: object) -> str:
    # repr() of an int of over 4300 digits raises ValueError, and a huge string makes a
    # useless message: show the start only.
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**20:
        return "a number out of range"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _steps(context: JobContext) -> list[str]:
    name, domain = context.service_name, context.identity_domain
    node = f"{name.lower()[:10]}-cach-1"
    size = context.parameters.get("size", "1")
    return {
        OperationType.CREATE_SERVICE: [
            f"Started operation to create service [{name}] in identity domain [{domain}].",
            f"Acquired resources for instance({size}G) {node}...",
            f"Deploying cache cluster on {node}...",
            f"Cache cluster deployed and listening on {node}:9000.",
            f"Completed operation to create service [{name}] in identity domain [{domain}].",
        ],
        OperationType.DELETE_SERVICE: [
            f"Started operation to delete service [{name}] in identity domain [{domain}].",
            f"Stopping cache cluster on {node}...",
            f"Released resources of {node}.",
            f"Completed operation to delete service [{name}] in identity domain [{domain}].",
        ],
        OperationType.START_SERVICE: [
            f"Started operation to start service [{name}] in identity domain [{domain}].",
            f"Starting cache cluster on {node}...",
            f"Completed operation to start service [{name}] in identity domain [{domain}].",
        ],
        OperationType.STOP_SERVICE: [
            f"Started operation to stop service [{name}] in identity domain [{domain}].",
            f"Stopping cache cluster on {node}...",
            f"Completed operation to stop service [{name}] in identity domain [{domain}].",
        ],
        OperationType.RESTART_SERVICE: [
            f"Started operation to restart service [{name}] in identity domain [{domain}].",
            f"Stopping cache cluster on {node}...",
            f"Starting cache cluster on {node}...",
            f"Completed operation to restart service [{name}] in identity domain [{domain}].",
        ],
        OperationType.SCALE_SERVICE: [
            f"Started operation to scale service [{name}] in identity domain [{domain}].",
            f"Resizing {node} to {size}G...",
            f"Rebalancing cache partitions across {node}...",
            f"Completed operation to scale service [{name}] in identity domain [{domain}].",
        ],
    }[OperationType(context.operation_type)]


async def _stop(context: JobContext, number: int, steps: int) -> None:
    """Stop before step ``number``, saying so and what state the instance is left in, which
    is what domain.instances gives a FAILED operation: a create, failed; any other, the
    state before it (a real handler undoes what it did first, for that to be true)."""
    name = context.service_name
    await context.log(
        f"Stopped at step {number} of {steps}: "
        f"cancellation requested by {context.cancel_requested_by}."
    )
    if context.operation_type == OperationType.CREATE_SERVICE:
        await context.log(
            f"Service [{name}] was not created: it is left failed; delete it to release what "
            "the create acquired."
        )
    else:
        await context.log(f"Service [{name}] is left as it was before the operation.")
    # The worker records FAILED for a cancelled job whatever the handler says; saying it here
    # too keeps the handler's own account (FakeJobContext.final_status) truthful.
    context.final_status = JobStatus.FAILED


def demo_caching_service_type(step_delay: float) -> ServiceType:
    async def walk_through_steps(context: JobContext) -> None:
        steps = _steps(context)
        for number, message in enumerate(steps, start=1):
            # A cancellation cuts the pause short: the job ends well within the cancel grace.
            if step_delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(context.cancel_requested.wait(), step_delay)
            if context.cancel_requested.is_set():
                await _stop(context, number, len(steps))
                return
            await context.log(message)

    handlers: dict[str, Handler] = dict.fromkeys(OperationType, walk_through_steps)
    return ServiceType(
        name="caching",
        handlers=handlers,
        validate_parameters=validate_caching_parameters,
        parameters=(SIZE,),
        description="Demonstration cache service: realistic activity, provisions nothing.",
    )
