"""activitylog: long-running operations behind an Oracle PSM-compatible activity-log API."""

from __future__ import annotations

from activitylog.domain.jobs import JobStatus
from activitylog.engine.handlers import JobContext, ServiceType, ServiceTypeRegistry
from activitylog.errors import ActivityLogError
from activitylog.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "ActivityLogError",
    "JobContext",
    "JobStatus",
    "ServiceType",
    "ServiceTypeRegistry",
    "Settings",
    "__version__",
]
