"""The `activitylog` command: serve the API and workers, manage the database, and act as a
client of any activitylog server."""

from __future__ import annotations

import click

from activitylog.cli.admin_commands import ADMIN_COMMANDS
from activitylog.cli.client_commands import CLIENT_COMMANDS
from activitylog.cli.config_commands import CONFIG_COMMANDS
from activitylog.cli.instance_commands import INSTANCE_COMMANDS
from activitylog.cli.operations_commands import OPERATIONS_COMMANDS
from activitylog.cli.server_commands import SERVER_COMMANDS
from activitylog.cli.token_commands import TOKEN_COMMANDS
from activitylog.cli.users_commands import USERS_COMMANDS

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="activitylog")
def main() -> None:
    """activitylog: long-running operations with an Oracle PSM-compatible activity log."""


_COMMANDS = (
    *SERVER_COMMANDS,
    *ADMIN_COMMANDS,
    *CLIENT_COMMANDS,
    *INSTANCE_COMMANDS,
    *USERS_COMMANDS,
    *TOKEN_COMMANDS,
    *OPERATIONS_COMMANDS,
    *CONFIG_COMMANDS,
)
for _command in _COMMANDS:
    main.add_command(_command)
