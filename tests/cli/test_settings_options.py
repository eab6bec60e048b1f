"""Every option that sets a `Settings` field takes the field's default, and its variable is named
for the field: `serve` and `worker` with neither flags nor environment run with `Settings()`."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator

import click
import pytest

from activitylog.cli import main
from activitylog.cli.server_commands import serve, worker
from activitylog.cli.settings_options import environment_variable
from activitylog.settings import Settings

FIELD_DEFAULTS = {field.name: field.default for field in dataclasses.fields(Settings)}
# Variables named before the field they set, kept for the deployments that use them.
ESTABLISHED_VARIABLES = {"run_worker": "ACTIVITYLOG_WORKER"}
# The options of `serve` and `worker` that set no Settings field.
NOT_SETTINGS = {"help", "health_port"}


def _commands(group: click.Group) -> Iterator[click.Command]:
    for command in group.commands.values():
        yield command
        if isinstance(command, click.Group):
            yield from _commands(command)


def _settings_options() -> list[click.Option]:
    return [
        param
        for command in _commands(main)
        for param in command.params
        if isinstance(param, click.Option) and param.name in FIELD_DEFAULTS
    ]


def test_every_settings_option_has_the_field_default_and_variable() -> None:
    options = _settings_options()

    assert len(options) >= 17  # serve's and worker's, and each admin command's --db
    for option in options:
        assert option.name is not None
        assert option.default == FIELD_DEFAULTS[option.name], option.name
        expected = ESTABLISHED_VARIABLES.get(option.name, environment_variable(option.name))
        assert option.envvar == expected
        assert option.show_envvar, option.name
        assert option.show_default, option.name


@pytest.mark.parametrize("command", [serve, worker], ids=["serve", "worker"])
def test_every_option_of_the_running_commands_sets_a_setting(command: click.Command) -> None:
    names = {param.name for param in command.params} - NOT_SETTINGS
    assert names <= set(FIELD_DEFAULTS)


@pytest.mark.parametrize("command", [serve, worker], ids=["serve", "worker"])
def test_no_flags_and_no_environment_give_the_default_settings(
    command: click.Command, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in os.environ:
        if name.startswith("ACTIVITYLOG_"):
            monkeypatch.delenv(name)

    context = command.make_context(command.name, [])

    chosen = {name: value for name, value in context.params.items() if name not in NOT_SETTINGS}
    assert Settings(**chosen) == Settings()
