"""Python handlers from elsewhere: ``python:package.module:callable`` references in the
configuration, and service types that installed distributions declare as entry points."""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path

from activitylog import errors
from activitylog.engine.handlers import ServiceType

ENTRY_POINT_GROUP = "activitylog.service_types"


def load_reference(reference: str, source: str | Path, key: str) -> object:
    """Import what ``python:package.module:attribute`` names (the attribute may be dotted)."""
    module_name, _, attribute = reference.removeprefix("python:").partition(":")
    try:
        target: object = importlib.import_module(module_name)
    except Exception as exc:  # any error in someone else's module is a configuration error
        raise errors.InvalidConfiguration(
            source, key, f"cannot import {module_name}: {_one_line(exc)}"
        ) from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise errors.InvalidConfiguration(
                source, key, f"{module_name} has no attribute {attribute}"
            ) from None
    if not callable(target):
        raise errors.InvalidConfiguration(source, key, f"{reference} is not callable")
    return target


def discover_service_types() -> list[ServiceType]:
    """The service types of every ``activitylog.service_types`` entry point installed."""
    found: dict[str, tuple[ServiceType, str]] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        source = _describe(entry_point)
        service_type = _load(entry_point, source)
        if service_type.name in found:
            raise errors.InvalidConfiguration(
                source,
                None,
                f"service type [{service_type.name}] is also declared by "
                f"{found[service_type.name][1]}",
            )
        found[service_type.name] = (service_type, source)
    return [service_type for service_type, _ in found.values()]


def _describe(entry_point: importlib.metadata.EntryPoint) -> str:
    distribution = entry_point.dist.name if entry_point.dist else "an unknown distribution"
    return f"entry point {entry_point.name} = {entry_point.value} ({distribution})"


def _load(entry_point: importlib.metadata.EntryPoint, source: str) -> ServiceType:
    """An entry point names a ServiceType, or a callable taking no argument that returns one."""
    try:
        loaded = entry_point.load()
        if not isinstance(loaded, ServiceType) and callable(loaded):
            loaded = loaded()
    except Exception as exc:  # any error in someone else's code is a configuration error
        raise errors.InvalidConfiguration(
            source, None, f"cannot load it: {_one_line(exc)}"
        ) from exc
    if not isinstance(loaded, ServiceType):
        raise errors.InvalidConfiguration(
            source,
            None,
            "expected a ServiceType, or a callable taking no argument that returns one; "
            f"got {type(loaded).__name__}",
        )
    return loaded


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
