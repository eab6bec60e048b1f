"""activitylog: long-running operations behind an Oracle PSM-compatible activity-log API.

The server's names below are imported on first use (PEP 562), so that `import activitylog.client`
(the SDK, which runs the package's ``__init__`` too) loads none of the engine, store or settings.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from activitylog._version import __version__

if TYPE_CHECKING:
    from activitylog.domain.jobs import JobStatus
    from activitylog.engine.handlers import JobContext, ServiceType, ServiceTypeRegistry
    from activitylog.errors import ActivityLogError
    from activitylog.settings import Settings

_MODULE_OF = {
    "ActivityLogError": "activitylog.errors",
    "JobContext": "activitylog.engine.handlers",
    "JobStatus": "activitylog.domain.jobs",
    "ServiceType": "activitylog.engine.handlers",
    "ServiceTypeRegistry": "activitylog.engine.handlers",
    "Settings": "activitylog.settings",
}

__all__ = [
    "ActivityLogError",
    "JobContext",
    "JobStatus",
    "ServiceType",
    "ServiceTypeRegistry",
    "Settings",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value  # the next lookup is an ordinary one
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})
