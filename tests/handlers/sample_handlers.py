"""Python handlers that configuration files in these tests point at."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from activitylog import errors
from activitylog.engine.handlers import JobContext


async def greet(context: JobContext) -> None:
    name, domain = context.service_name, context.identity_domain
    await context.log(
        f"Started operation to back up service [{name}] in identity domain [{domain}]."
    )
    await context.progress(50)
    await context.log(f"Backed up {context.parameters.get('size', '?')}G.")


async def degrade(context: JobContext) -> None:
    context.warn("Backup taken from a replica.")


def only_small(operation_type: str, parameters: Mapping[str, Any]) -> dict[str, Any]:
    if parameters.get("size") not in {None, "1"}:
        raise errors.InvalidParameters(issues=["serviceParameters.size: only 1 here"])
    return dict(parameters)


NOT_CALLABLE = 42
