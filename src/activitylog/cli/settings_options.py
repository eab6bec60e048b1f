"""Click options for `Settings` fields: each takes its default from the field and its environment
variable from the field's name (``ACTIVITYLOG_<FIELD>``), so neither is written twice, and click
shows both in ``--help``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import click

from activitylog.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])

ENVIRONMENT_PREFIX = "ACTIVITYLOG_"
SETTINGS_DEFAULTS: dict[str, Any] = {
    field.name: field.default for field in dataclasses.fields(Settings)
}


def environment_variable(field_name: str) -> str:
    return ENVIRONMENT_PREFIX + field_name.upper()


def setting_option(field_name: str, *flags: str, **attributes: Any) -> Callable[[F], F]:
    """The option that sets ``Settings.<field_name>`` (the command receives it by that name).

    Its flag is ``--field-name``, or ``--field-name/--no-field-name`` for a bool, unless ``flags``
    are given; ``attributes`` go to `click.option` (help, type, and an ``envvar`` only where an
    established variable's name differs from the field's).
    """
    default = SETTINGS_DEFAULTS[field_name]
    if not flags:
        flag = "--" + field_name.replace("_", "-")
        flags = (f"{flag}/--no-{flag[2:]}" if isinstance(default, bool) else flag,)
    attributes.setdefault("envvar", environment_variable(field_name))
    return click.option(
        *flags,
        field_name,
        default=default,
        show_default=True,
        show_envvar=True,
        **attributes,
    )


db_option = setting_option("db", help="SQLite file path, or a postgresql:// URL.")
