"""The service types this process offers: those of the configuration file (or, without one, the
demo ``caching``), and those installed distributions declare as entry points."""

from __future__ import annotations

from typing import cast

from activitylog.engine.command_handler import command_handler
from activitylog.engine.demo_caching import demo_caching_service_type
from activitylog.engine.handlers import (
    Handler,
    ParameterValidator,
    ServiceType,
    ServiceTypeRegistry,
    accept_any_parameters,
)
from activitylog.engine.plugins import discover_service_types, load_reference
from activitylog.engine.service_types_config import (
    COMMAND_HANDLER,
    Config,
    OperationConfig,
    ServiceTypeConfig,
    load_config,
)
from activitylog.settings import Settings


def default_registry(settings: Settings) -> ServiceTypeRegistry:
    """Raise InvalidConfiguration when the file, or an installed plugin, is not usable.

    A service type the file declares wins over a plugin's of the same name, and a plugin's
    over the demo: the more explicit the source, the higher it ranks.
    """
    chosen = {t.name: t for t in discover_service_types()}
    if settings.config is None:
        chosen.setdefault("caching", demo_caching_service_type(settings.demo_step_delay))
    else:
        chosen.update((t.name, t) for t in service_types_from(load_config(settings.config)))
    return ServiceTypeRegistry(chosen.values())


def service_types_from(config: Config) -> list[ServiceType]:
    return [_service_type(config, declared) for declared in config.service_types]


def _service_type(config: Config, declared: ServiceTypeConfig) -> ServiceType:
    validator: ParameterValidator = accept_any_parameters
    if declared.validate_parameters is not None:
        key = f"service_types.{declared.name}.validate_parameters"
        loaded = load_reference(declared.validate_parameters, config.path, key)
        validator = cast(ParameterValidator, loaded)
    return ServiceType(
        name=declared.name,
        handlers={op.name: _handler(config, op) for op in declared.operations},
        validate_parameters=validator,
        description=declared.description,
        policies={op.name: op.policy for op in declared.operations},
        warn_as_succeed=declared.warn_as_succeed,
        parameters=declared.parameters,
    )


def _handler(config: Config, operation: OperationConfig) -> Handler:
    if operation.handler == COMMAND_HANDLER and operation.command is not None:
        return command_handler(operation.command)
    loaded = load_reference(operation.handler, config.path, operation.handler_key)
    return cast(Handler, loaded)  # an async callable taking a JobContext, as documented
