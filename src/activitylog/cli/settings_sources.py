"""Where each setting of `serve`, `worker` and `prune` comes from, by one rule:

    flag > environment (ACTIVITYLOG_*) > the --config file's [settings] table > default

click resolves the first two and the default; this module puts the file in between, checking
its values with the same click types as the flags, and says for each setting which source won
(`activitylog config show`). ``--config`` itself comes from a flag or ACTIVITYLOG_CONFIG only.
"""

from __future__ import annotations

import dataclasses
import enum
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from activitylog import errors
from activitylog.cli.settings_options import SETTINGS_DEFAULTS


class Source(enum.Enum):
    FLAG = "flag"
    ENVIRONMENT = "environment"
    FILE = "file"
    DEFAULT = "default"


@dataclasses.dataclass(frozen=True, slots=True)
class ResolvedSetting:
    value: Any
    source: Source
    where: str = ""
    """The variable or the file's key that set it, or the flag (that did, or could have);
    empty for a setting with no flag."""


_CLICK_SOURCES = {
    ParameterSource.COMMANDLINE: Source.FLAG,
    ParameterSource.ENVIRONMENT: Source.ENVIRONMENT,
}


def resolve_settings(
    context: click.Context, options: Mapping[str, Any], settable: Collection[str]
) -> dict[str, ResolvedSetting]:
    """Every Settings field the command has an option for, with its value and its source.

    ``settable``: the fields a [settings] table may set (any command's); a key outside it is
    refused, a key this command has no option for is left to the commands that have one.
    Raise InvalidConfiguration when the file or one of its values is wrong.
    """
    file_values = _file_settings(options.get("config"), settable)
    parameters = {param.name: param for param in context.command.params}
    resolved: dict[str, ResolvedSetting] = {}
    for name, value in options.items():
        if name not in SETTINGS_DEFAULTS:
            continue
        source = context.get_parameter_source(name)
        parameter = parameters[name]
        if source in _CLICK_SOURCES:
            where = _where(parameter, _CLICK_SOURCES[source])
            resolved[name] = ResolvedSetting(value, _CLICK_SOURCES[source], where)
        elif name in file_values:
            file_value, key = file_values[name]
            resolved[name] = ResolvedSetting(
                _checked(context, parameter, file_value, key), Source.FILE, key
            )
        else:
            resolved[name] = ResolvedSetting(value, Source.DEFAULT, _where(parameter, Source.FLAG))
    return resolved


def with_file_settings(
    context: click.Context, options: Mapping[str, Any], settable: Collection[str]
) -> dict[str, Any]:
    """``options`` with the file's [settings] in place of defaults (the precedence above)."""
    resolved = resolve_settings(context, options, settable)
    return {name: resolved[name].value if name in resolved else v for name, v in options.items()}


def _where(parameter: click.Parameter, source: Source) -> str:
    if source is Source.ENVIRONMENT:
        envvar = parameter.envvar
        return envvar if isinstance(envvar, str) else " ".join(envvar or ())
    return "/".join(parameter.opts)


def _checked(context: click.Context, parameter: click.Parameter, value: Any, key: str) -> Any:
    """The file's value as the flag would give it, through the flag's type and callback."""
    config = context.params.get("config")
    try:
        return parameter.process_value(context, value)
    except click.BadParameter as exc:
        raise errors.InvalidConfiguration(str(config), key, exc.message) from exc


def _file_settings(config: str | None, settable: Collection[str]) -> dict[str, tuple[Any, str]]:
    """The file's [settings] (and [retention].days, which is ``retention_days``): name to
    (value, key path)."""
    if config is None:
        return {}
    path = Path(config)
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise errors.InvalidConfiguration(path, None, f"cannot read it: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise errors.InvalidConfiguration(path, None, f"not valid TOML: {exc}") from exc
    table = document.get("settings", {})
    if not isinstance(table, dict):
        raise errors.InvalidConfiguration(path, "settings", "expected a table")
    found = {name: (value, f"settings.{name}") for name, value in table.items()}
    for name in found:
        if name not in settable:
            known = ", ".join(sorted(settable))
            raise errors.InvalidConfiguration(
                path, f"settings.{name}", f"unknown setting; expected one of: {known}"
            )
    for name, (value, key) in found.items():
        problem = _kind_problem(SETTINGS_DEFAULTS[name], value)
        if problem:
            raise errors.InvalidConfiguration(path, key, problem)
    retention = document.get("retention", {})
    if isinstance(retention, dict) and "days" in retention:
        if "retention_days" in found:
            raise errors.InvalidConfiguration(
                path, "retention.days", "settings.retention_days is set too: keep one of them"
            )
        found["retention_days"] = (retention["days"], "retention.days")
    return found


def _kind_problem(default: Any, value: Any) -> str | None:
    """What is wrong with a TOML value of the kind of a setting's default, checked before its
    flag's type sees it (click's int would take 0.5 as 0)."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"expected true or false, got {value!r}"
    if isinstance(value, bool):
        return f"expected a {type(default).__name__}, got {str(value).lower()}"
    if isinstance(default, int):
        return None if isinstance(value, int) else f"expected a whole number, got {value!r}"
    if isinstance(default, float):
        return None if isinstance(value, int | float) else f"expected a number, got {value!r}"
    if isinstance(default, tuple):
        strings = isinstance(value, list) and all(isinstance(item, str) for item in value)
        return None if strings else f"expected a list of strings, got {value!r}"
    return None if isinstance(value, str) else f"expected a string, got {value!r}"
