"""`activitylog token create|list|revoke`: personal API tokens, through the server's API (so the
profile's user signs in with its password, as creating a token requires)."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from activitylog.cli.client_commands import reporting_client_errors
from activitylog.cli.connection import Connect, connection_options
from activitylog.cli.rendering import format_moment, to_json
from activitylog.client import ApiToken
from activitylog.client._wire import format_timestamp

ROLES = ("viewer", "operator", "admin")


@click.group()
def token() -> None:
    """Manage personal API tokens (send one as `Authorization: Bearer <token>`)."""


@token.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), help="At most the user's role [default: it].")
@click.option("--days", type=click.IntRange(min=1), help="Days until it expires [server: 90].")
@click.option("--for-user", "for_user", help="Admins: create it for this user.")
@click.option("--json", "as_json", is_flag=True, help="Print the token, secret included, as JSON.")
@connection_options
@reporting_client_errors
def create_token(
    name: str,
    role: str | None,
    days: int | None,
    for_user: str | None,
    as_json: bool,
    connect: Connect,
) -> None:
    """Create token NAME and print its secret: shown this once, never again."""
    with connect().client() as client:
        created = client.create_token(name, role=role, expires_in_days=days, user=for_user)
    if as_json:
        click.echo(to_json(_wire(created)))
        return
    click.echo(created.secret)
    click.echo(
        f"Token {created.token_id} ({created.name}, {created.role}) for {created.user}, "
        f"expires {format_moment(created.expires_at)}. Store the secret now: it is not "
        "shown again.",
        err=True,
    )


@token.command("list")
@click.option("--for-user", "for_user", help="Admins: only this user's tokens.")
@click.option("--json", "as_json", is_flag=True, help='Print {"tokens":[...]}.')
@connection_options
@reporting_client_errors
def list_tokens(for_user: str | None, as_json: bool, connect: Connect) -> None:
    """List your tokens (admins: the domain's)."""
    with connect().client() as client:
        tokens = client.tokens(user=for_user)
    if as_json:
        click.echo(to_json({"tokens": [_wire(t) for t in tokens]}))
        return
    table = Table("Id", "Name", "User", "Role", "Expires", "Last used")
    for listed in tokens:
        last_used = format_moment(listed.last_used_at) if listed.last_used_at else "never"
        table.add_row(
            str(listed.token_id),
            listed.name,
            listed.user,
            listed.role,
            format_moment(listed.expires_at),
            last_used,
        )
    Console(highlight=False, soft_wrap=True).print(table)


@token.command("revoke")
@click.argument("token_id", type=click.IntRange(min=0), metavar="ID")
@connection_options
@reporting_client_errors
def revoke_token(token_id: int, connect: Connect) -> None:
    """Revoke token ID (see `activitylog token list`): it stops working at once."""
    with connect().client() as client:
        client.revoke_token(token_id)
    click.echo(f"Revoked token {token_id}")


def _wire(listed: ApiToken) -> dict[str, object]:
    """The token as the server writes it."""
    body: dict[str, object] = {
        "id": listed.token_id,
        "name": listed.name,
        "user": listed.user,
        "role": listed.role,
        "createdBy": listed.created_by,
        "createdAt": format_timestamp(listed.created_at),
        "expiresAt": format_timestamp(listed.expires_at),
    }
    if listed.last_used_at is not None:
        body["lastUsedAt"] = format_timestamp(listed.last_used_at)
    if listed.secret is not None:
        body["token"] = listed.secret
    return body


TOKEN_COMMANDS: list[click.Command] = [token]
