"""The `activitylog` command: serve the API and worker, and manage domains and users."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import click

from activitylog import errors
from activitylog.client.commands import CLIENT_COMMANDS
from activitylog.settings import Settings

T = TypeVar("T")

_db_option = click.option(
    "--db",
    envvar="ACTIVITYLOG_DB",
    default="activitylog.db",
    show_default=True,
    help="SQLite file path, or a postgresql:// URL. [env: ACTIVITYLOG_DB]",
)
_config_option = click.option(
    "--config",
    envvar="ACTIVITYLOG_CONFIG",
    default=None,
    type=click.Path(dir_okay=False),
    help="activitylog.toml declaring the service types and their handlers; without it, the "
    "demo caching type. [env: ACTIVITYLOG_CONFIG]",
)
_log_level_option = click.option(
    "--log-level",
    envvar="ACTIVITYLOG_LOG_LEVEL",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="[env: ACTIVITYLOG_LOG_LEVEL]",
)

F = TypeVar("F", bound=Callable[..., Any])


def _seconds_option(
    name: str, default: float, help_text: str, minimum: float = 0.01
) -> Callable[[F], F]:
    variable = "ACTIVITYLOG_" + name.removeprefix("--").replace("-", "_").upper()
    return click.option(
        name,
        envvar=variable,
        default=default,
        show_default=True,
        type=click.FloatRange(minimum, 86_400),
        help=f"{help_text} [env: {variable}]",
    )


_ENGINE_OPTIONS = (
    _seconds_option("--lease-seconds", 30.0, "How long a claimed job stays this worker's."),
    _seconds_option("--heartbeat-seconds", 10.0, "How often running jobs' leases are renewed."),
    _seconds_option("--rescue-interval", 5.0, "How often to rescue jobs whose lease expired."),
    _seconds_option("--cancel-grace", 10.0, "A cancelled handler's time to stop by itself.", 0),
    _seconds_option("--shutdown-grace", 30.0, "Running handlers' time to end on SIGTERM.", 0),
    click.option(
        "--db-pool-size",
        envvar="ACTIVITYLOG_DB_POOL_SIZE",
        default=20,
        show_default=True,
        type=click.IntRange(1, 1000),
        help="PostgreSQL connections this process may open, besides two of its own. "
        "[env: ACTIVITYLOG_DB_POOL_SIZE]",
    ),
)


def _engine_options(command: F) -> F:
    """The lease, rescue, grace and pool settings, which serve and worker share."""
    for option in reversed(_ENGINE_OPTIONS):
        command = option(command)
    return command


def _engine_settings(options: dict[str, Any]) -> Settings:
    if options["heartbeat_seconds"] >= options["lease_seconds"]:
        raise click.BadParameter(
            "renew leases more often than they last: --heartbeat-seconds must be below "
            "--lease-seconds",
            param_hint="--heartbeat-seconds",
        )
    return Settings(**options)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="activitylog")
def main() -> None:
    """activitylog: long-running operations with an Oracle PSM-compatible activity log."""


@main.command()
@_db_option
@click.option(
    "--host",
    envvar="ACTIVITYLOG_HOST",
    default="127.0.0.1",
    show_default=True,
    help="[env: ACTIVITYLOG_HOST]",
)
@click.option(
    "--port",
    envvar="ACTIVITYLOG_PORT",
    default=8080,
    show_default=True,
    type=int,
    help="[env: ACTIVITYLOG_PORT]",
)
@click.option(
    "--demo/--no-demo",
    envvar="ACTIVITYLOG_DEMO",
    default=False,
    show_default=True,
    help="Create the demo domain ExampleIdentityDomain and user joe@example.com. "
    "[env: ACTIVITYLOG_DEMO]",
)
@click.option(
    "--concurrency",
    envvar="ACTIVITYLOG_CONCURRENCY",
    default=4,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="In-process worker slots. [env: ACTIVITYLOG_CONCURRENCY]",
)
@click.option(
    "--worker/--no-worker",
    "run_worker",
    envvar="ACTIVITYLOG_WORKER",
    default=True,
    show_default=True,
    help="Run the in-process worker. [env: ACTIVITYLOG_WORKER]",
)
@click.option(
    "--server",
    envvar="ACTIVITYLOG_SERVER",
    default="granian",
    show_default=True,
    type=click.Choice(["granian", "uvicorn"]),
    help="[env: ACTIVITYLOG_SERVER]",
)
@click.option(
    "--demo-step-delay",
    envvar="ACTIVITYLOG_DEMO_STEP_DELAY",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="Seconds between the demo caching steps. [env: ACTIVITYLOG_DEMO_STEP_DELAY]",
)
@click.option(
    "--public-url",
    envvar="ACTIVITYLOG_PUBLIC_URL",
    default=None,
    help="Base URL for Location headers, when behind a proxy. [env: ACTIVITYLOG_PUBLIC_URL]",
)
@_engine_options
@_config_option
@_log_level_option
def serve(**options: Any) -> None:
    """Run the HTTP API (and, by default, an in-process worker)."""
    from activitylog.logs import configure_logging  # noqa: PLC0415 - keep the CLI quick to start
    from activitylog.serving import create_app, run_event_loop  # noqa: PLC0415
    from activitylog.serving import serve as run_server  # noqa: PLC0415

    settings = _engine_settings(options)
    configure_logging(settings.log_level)
    with _configuration_errors():
        app = create_app(settings)
    click.echo(
        f"activitylog serving on http://{settings.host}:{settings.port} "
        f"(store: {settings.db}, worker: {'on' if settings.run_worker else 'off'})",
        err=True,
    )
    store = app.state.context.store
    # A lambda, not the bound method: opening the store gives it a fresh feed.
    close_feed = lambda: store.changes.close()  # noqa: E731, PLW0108
    run_event_loop(run_server(app, settings, on_stop=close_feed))


@main.command()
@_db_option
@click.option(
    "--concurrency",
    envvar="ACTIVITYLOG_CONCURRENCY",
    default=4,
    show_default=True,
    type=click.IntRange(1, 1000),
    help="Jobs run at once. [env: ACTIVITYLOG_CONCURRENCY]",
)
@click.option(
    "--host",
    envvar="ACTIVITYLOG_HOST",
    default="127.0.0.1",
    show_default=True,
    help="Address of the health/metrics port. [env: ACTIVITYLOG_HOST]",
)
@click.option(
    "--port",
    envvar="ACTIVITYLOG_WORKER_PORT",
    default=None,
    type=int,
    help="Serve /health and /metrics on this port. [env: ACTIVITYLOG_WORKER_PORT]",
)
@click.option(
    "--demo-step-delay",
    envvar="ACTIVITYLOG_DEMO_STEP_DELAY",
    default=0.5,
    show_default=True,
    type=click.FloatRange(0, 3600),
    help="Seconds between the demo caching steps. [env: ACTIVITYLOG_DEMO_STEP_DELAY]",
)
@_engine_options
@_config_option
@_log_level_option
def worker(port: int | None, **options: Any) -> None:
    """Run workers only: claim and run jobs from the database, with no API."""
    from activitylog.logs import configure_logging  # noqa: PLC0415
    from activitylog.serving import run_event_loop, run_worker_process  # noqa: PLC0415

    settings = _engine_settings(options)
    configure_logging(settings.log_level)
    click.echo(f"activitylog worker on {settings.db} ({settings.concurrency} slots)", err=True)
    with _configuration_errors():
        run_event_loop(run_worker_process(settings, health_port=port))


@contextlib.contextmanager
def _configuration_errors() -> Iterator[None]:
    """A bad configuration file is the operator's to fix: say what is wrong, no traceback."""
    try:
        yield
    except errors.InvalidConfiguration as exc:
        raise click.ClickException(exc.message) from exc


@main.command()
@_db_option
def migrate(db: str) -> None:
    """Apply pending database migrations and exit."""
    from activitylog.store import open_store  # noqa: PLC0415

    async def run() -> None:
        store = open_store(db)
        await store.open()
        await store.close()

    _run(run)
    click.echo(f"migrations applied to {db}")


@main.group()
def domain() -> None:
    """Manage identity domains."""


@domain.command("add")
@_db_option
@click.argument("name")
def domain_add(db: str, name: str) -> None:
    """Create the identity domain NAME."""
    from activitylog.domain.names import check_domain_name  # noqa: PLC0415

    problem = check_domain_name(name)
    if problem:
        raise click.BadParameter(problem, param_hint="NAME")
    _run(lambda store: store.create_domain(name), db=db)
    click.echo(f"identity domain {name} created")


@main.group()
def user() -> None:
    """Manage users of an identity domain."""


@user.command("add")
@_db_option
@click.argument("domain_name", metavar="DOMAIN")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["viewer", "operator", "admin"]),
    default="operator",
    show_default=True,
)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_add(db: str, domain_name: str, name: str, role: str, password_stdin: bool) -> None:
    """Create user NAME in DOMAIN. The password is prompted for (or read from stdin)."""
    password = _read_password(password_stdin)
    from activitylog.passwords import password_hasher  # noqa: PLC0415

    hashed = password_hasher().hash(password)
    _run(lambda store: store.create_user(domain_name, name, hashed, role), db=db)
    click.echo(f"user {name} ({role}) created in {domain_name}")


@user.command("passwd")
@_db_option
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


def _run(action: Callable[..., Awaitable[T]], *, db: str | None = None) -> T:
    """Run one store action (or a no-argument coroutine function), mapping errors to exits."""
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
    except errors.ActivityLogError as exc:
        raise click.ClickException(exc.message) from exc


# The client commands (login, status, activities, create, ...) speak HTTP to any server.
for _client_command in CLIENT_COMMANDS:
    main.add_command(_client_command)
