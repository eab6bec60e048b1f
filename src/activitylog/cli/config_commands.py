"""`activitylog config show`: the settings `serve` would run with, where each came from, and no
secret in the output."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import click

from activitylog import errors
from activitylog.cli.server_commands import FILE_SETTINGS, serve
from activitylog.cli.settings_sources import ResolvedSetting, Source, resolve_settings
from activitylog.settings import Settings

REDACTED = "***"
_SECRET_NAME = re.compile(r"password|secret|token", re.IGNORECASE)
# The password of scheme://user:password@host (a DSN), and a password=... query parameter.
_URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?=@)", re.IGNORECASE)
_QUERY_PASSWORD = re.compile(r"([?&][a-z_]*password=)[^&\s]*", re.IGNORECASE)


def redacted(name: str, value: Any) -> Any:
    """``value`` safe to print: a text setting named for a secret is hidden whole, a URL's
    password and a password query parameter anywhere. (Numbers, like token_max_days, are no
    secret.)"""
    if isinstance(value, tuple):
        return tuple(redacted(name, item) for item in value)
    if not isinstance(value, str):
        return value
    if _SECRET_NAME.search(name) and value:
        return REDACTED
    value = _URL_PASSWORD.sub(rf"\g<1>{REDACTED}", value)
    return _QUERY_PASSWORD.sub(rf"\g<1>{REDACTED}", value)


def _shown(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return " ".join(str(item) for item in value) or "(none)"
    return str(value)


def _source(setting: ResolvedSetting, config: str | None) -> str:
    if setting.source is Source.FILE:
        return f"file {config}: {setting.where}"
    if setting.source is Source.DEFAULT:
        return "default" if setting.where else "default (no flag)"
    return f"{setting.source.value} {setting.where}"


def _show(**options: Any) -> None:
    context = click.get_current_context()
    try:
        resolved = resolve_settings(context, options, FILE_SETTINGS)
    except errors.InvalidConfiguration as exc:
        raise click.ClickException(exc.message) from exc
    config = options.get("config")
    rows = [("setting", "value", "source")]
    for field in dataclasses.fields(Settings):
        setting = resolved.get(field.name, ResolvedSetting(field.default, Source.DEFAULT, ""))
        value = _shown(redacted(field.name, setting.value))
        rows.append((field.name, value, _source(setting, config)))
    name_width = max(len(row[0]) for row in rows)
    value_width = min(max(len(row[1]) for row in rows), 48)
    click.echo("# precedence: flag > environment (ACTIVITYLOG_*) > --config [settings] > default")
    for name, value, source in rows:
        click.echo(f"{name:<{name_width}}  {value:<{value_width}}  {source}")


show = click.Command(
    "show",
    callback=_show,
    params=list(serve.params),
    help="Print the settings `serve` would run with, given the same flags, environment and "
    "--config file, and where each came from (flag, environment, file, default); passwords "
    "and secrets are shown as ***. `worker` takes the same, for the flags it has.",
)


@click.group("config")
def config_group() -> None:
    """The effective configuration."""


config_group.add_command(show)

CONFIG_COMMANDS: list[click.Command] = [config_group]
