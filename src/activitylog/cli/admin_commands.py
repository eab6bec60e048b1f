"""The database's commands: apply migrations, add and list identity domains, add users."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from activitylog import errors
from activitylog.cli.settings_options import db_option
from activitylog.store.locations import cannot_open, redact_url

if TYPE_CHECKING:
    from activitylog.store.base import Store

T = TypeVar("T")


@click.command()
@db_option
@click.option(
    "--check",
    is_flag=True,
    help="Apply nothing: list the pending migrations and exit 1 when there are any.",
)
def migrate(db: str, check: bool) -> None:
    """Apply pending database migrations and exit."""
    from activitylog.store import open_store  # noqa: PLC0415 - keep the CLI quick to start

    if check:
        _check_migrations(db)
        return

    async def run() -> None:
        store = open_store(db)
        await store.open()
        await store.close()

    _run(run, described=db)
    click.echo(f"migrations applied to {redact_url(db)}")


def _check_migrations(db: str) -> None:
    from activitylog.store import migrate as migrations  # noqa: PLC0415

    async def applied_on_postgres() -> list[int]:
        import asyncpg  # noqa: PLC0415

        connection = await asyncpg.connect(db, timeout=10)
        try:
            return await migrations.read_applied_postgres(connection)
        finally:
            await connection.close()

    postgres = db.startswith(("postgres://", "postgresql://"))
    try:
        if postgres:
            applied = asyncio.run(applied_on_postgres())
        else:
            path = db.removeprefix("sqlite:///").removeprefix("sqlite://")
            applied = migrations.read_applied_sqlite(path) if Path(path).exists() else []
    except Exception as exc:  # an unreachable server, say: said, not a traceback
        raise click.ClickException(f"cannot read the migrations of {db}: {exc}") from exc
    pending = migrations.pending_migrations("postgres" if postgres else "sqlite", applied)
    if pending:
        click.echo(f"pending migrations on {db}: {', '.join(map(str, pending))}")
        sys.exit(1)
    click.echo(f"{db} is up to date (migration {max(applied)})")


@click.group()
def domain() -> None:
    """Manage identity domains."""


@domain.command("add")
@db_option
@click.argument("name")
def domain_add(db: str, name: str) -> None:
    """Create the identity domain NAME."""
    from activitylog.domain.names import check_domain_name  # noqa: PLC0415

    problem = check_domain_name(name)
    if problem:
        raise click.BadParameter(problem, param_hint="NAME")
    _run(lambda store: store.create_domain(name), db=db)
    click.echo(f"identity domain {name} created")


@domain.command("list")
@db_option
def domain_list(db: str) -> None:
    """List the identity domains, one name a line.

    From the database: over the API, credentials belong to one domain, and its admins see
    only that one.
    """

    async def names(store: Store) -> list[str]:
        return [found.name for found in await store.list_domains()]

    for name in _run(names, db=db):
        click.echo(name)


@click.group()
def user() -> None:
    """Manage users in the database directly (the first admin; else see `users`)."""


@user.command("add")
@db_option
@click.argument("domain_name", metavar="DOMAIN")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["viewer", "operator", "admin"]),
    default="operator",
    show_default=True,
    help="viewer: reads; operator: also submits and cancels operations; admin: also "
    "manages the domain's users.",
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(db: str, domain_name: str, name: str, role: str, password_stdin: bool) -> None:
    """Create user NAME in DOMAIN. The password is prompted for (or read from stdin)."""
    from activitylog.domain.names import check_user_name  # noqa: PLC0415

    problem = check_user_name(name)
    if problem:
        raise click.BadParameter(problem, param_hint="NAME")
    password = _read_password(password_stdin)
    from activitylog.passwords import password_hasher  # noqa: PLC0415

    hashed = password_hasher().hash(password)
    _run(lambda store: store.create_user(domain_name, name, hashed, role), db=db)
    click.echo(f"user {name} ({role}) created in {domain_name}")


@user.command("passwd")
@db_option
@click.argument("domain_name", metavar="DOMAIN")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_passwd(db: str, domain_name: str, name: str, password_stdin: bool) -> None:
    """Change the password of user NAME in DOMAIN."""
    password = _read_password(password_stdin)
    from activitylog.passwords import password_hasher  # noqa: PLC0415

    hashed = password_hasher().hash(password)
    _run(lambda store: store.update_user(domain_name, name, password_hash=hashed), db=db)
    click.echo(f"password of {name} changed in {domain_name}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if len(password) < 8:
        raise click.BadParameter("use at least 8 characters", param_hint="password")
    return str(password)


def _run(
    action: Callable[..., Awaitable[T]], *, db: str | None = None, described: str | None = None
) -> T:
    """Run one store action (or a no-argument coroutine function), mapping errors to exits;
    a database out of reach (``db``, or ``described`` for an action that opens its own) is
    named in the message, with why."""
    from activitylog.store import open_store  # noqa: PLC0415

    async def run() -> T:
        if db is None:
            return await action()
        store = open_store(db)
        await store.open()
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except errors.StoreUnavailable as exc:
        url = db or described
        raise click.ClickException(cannot_open(url, exc) if url else exc.message) from exc
    except errors.ActivityLogError as exc:
        raise click.ClickException(exc.message) from exc


ADMIN_COMMANDS: list[click.Command] = [migrate, domain, user]
