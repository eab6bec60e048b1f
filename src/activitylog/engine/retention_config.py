"""The retention policy a process prunes by: ``--retention-days`` (or its variable, or the file's
[settings]), refined per identity domain and service type by activitylog.toml's [retention]."""

from __future__ import annotations

import tomllib
from pathlib import Path

from activitylog import errors
from activitylog.domain.retention import RetentionPolicy, policy_from_table
from activitylog.settings import Settings


def retention_policy(settings: Settings) -> RetentionPolicy:
    """Raise InvalidConfiguration when the file's [retention] table is wrong."""
    if settings.config is None:
        return RetentionPolicy(days=settings.retention_days)
    path = Path(settings.config)
    try:
        with path.open("rb") as file:
            table = tomllib.load(file).get("retention", {})
    except OSError as exc:
        raise errors.InvalidConfiguration(path, None, f"cannot read it: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise errors.InvalidConfiguration(path, None, f"not valid TOML: {exc}") from exc
    # retention.days, when given, is only the default of `retention_days`; the setting as the
    # CLI resolved it (flag, environment, file, default) is the one used.
    table = {key: value for key, value in table.items() if key != "days"}
    try:
        return policy_from_table(table, settings.retention_days)
    except ValueError as exc:
        key, _, problem = str(exc).partition(": ")
        raise errors.InvalidConfiguration(path, key, problem) from exc
