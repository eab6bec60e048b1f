"""The service types this process offers."""

from __future__ import annotations

from activitylog.engine.demo_caching import demo_caching_service_type
from activitylog.engine.handlers import ServiceTypeRegistry
from activitylog.settings import Settings


def default_registry(settings: Settings) -> ServiceTypeRegistry:
    return ServiceTypeRegistry([demo_caching_service_type(settings.demo_step_delay)])
