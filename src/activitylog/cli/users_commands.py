"""`activitylog users list|add|remove|set-role`: an admin manages the identity domain's users
over the API, from anywhere. (`activitylog user add` edits the database directly, for the first
admin of a domain.)"""

from __future__ import annotations

import sys

import click
from rich.table import Table

from activitylog.cli.client_commands import reporting_client_errors
from activitylog.cli.connection import Connect, ask, connection_options
from activitylog.cli.rendering import output_console, to_json
from activitylog.client import User

ROLES = ("viewer", "operator", "admin")
MIN_PASSWORD_LENGTH = 8  # the server's rule, checked here too so a prompt can ask again


@click.group()
def users() -> None:
    """Manage the domain's users over the API, as its admin (`user` edits the database)."""


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help='Print {"users":[...]}.')
@connection_options
@reporting_client_errors
def list_users(as_json: bool, connect: Connect) -> None:
    """List the domain's users and their roles."""
    with connect().client() as client:
        found = client.users()
    if as_json:
        click.echo(to_json({"users": [_wire(u) for u in found]}))
        return
    table = Table("User", "Role")
    for listed in found:
        table.add_row(listed.name, listed.role)
    output_console().print(table)


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option(
    "--new-password-stdin",
    is_flag=True,
    help="Read the new user's password from standard input (after your own, with "
    "--password-stdin); without it, a prompt asks twice.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the user as the server does.")
@connection_options
@reporting_client_errors
def add_user(
    name: str, role: str, new_password_stdin: bool, as_json: bool, connect: Connect
) -> None:
    """Create user NAME; refused if it exists (change its role with `users set-role`)."""
    connection = connect()
    password = _new_password(name, new_password_stdin)
    with connection.client() as client:
        added = client.add_user(name, password, role=role)
    _print_user(added, as_json, f"Added user {added.name} ({added.role}) to {connection.domain}")


@users.command("set-role")
@click.argument("name")
@click.argument("role", type=click.Choice(ROLES))
@click.option("--json", "as_json", is_flag=True, help="Print the user as the server does.")
@connection_options
@reporting_client_errors
def set_role(name: str, role: str, as_json: bool, connect: Connect) -> None:
    """Give user NAME the role ROLE (a domain keeps at least one admin)."""
    with connect().client() as client:
        changed = client.set_user_role(name, role)
    _print_user(changed, as_json, f"User {changed.name} is now {changed.role}")


@users.command("remove")
@click.argument("name")
@connection_options
@reporting_client_errors
def remove_user(name: str, connect: Connect) -> None:
    """Delete user NAME: its password and API tokens stop working at once."""
    connection = connect()
    with connection.client() as client:
        client.remove_user(name)
    click.echo(f"Removed user {name} from {connection.domain}")


def _new_password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise click.BadParameter(
                f"use at least {MIN_PASSWORD_LENGTH} characters", param_hint="the new password"
            )
        return password
    while True:
        password = ask(
            f"Password for {name}",
            hide_input=True,
            confirm=True,
            instead="give it with --new-password-stdin",
        )
        if len(password) >= MIN_PASSWORD_LENGTH:
            return password
        click.echo(f"Use at least {MIN_PASSWORD_LENGTH} characters.", err=True)


def _print_user(user: User, as_json: bool, text: str) -> None:
    click.echo(to_json(_wire(user)) if as_json else text)


def _wire(user: User) -> dict[str, str]:
    return {"name": user.name, "role": user.role}


USERS_COMMANDS: list[click.Command] = [users]
