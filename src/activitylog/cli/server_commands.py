"""The commands that run the service: `serve` (the API and, by default, a worker) and `worker`."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click
import structlog

from activitylog import errors
from activitylog.cli.security_options import security_options
from activitylog.cli.settings_options import SETTINGS_DEFAULTS, db_option, setting_option
from activitylog.cli.settings_sources import with_file_settings
from activitylog.http.links import served_address
from activitylog.settings import Settings
from activitylog.store.locations import cannot_open, redact_url
from activitylog.transport_security import serving_problem

F = TypeVar("F", bound=Callable[..., Any])
_log = structlog.get_logger("activitylog.cli")

_config_option = setting_option(
    "config",
    type=click.Path(dir_okay=False),
    help="activitylog.toml declaring the service types and their handlers; without it, the "
    "demo caching type.",
)
_log_level_option = setting_option(
    "log_level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="The least severe log lines written.",
)
_log_format_option = setting_option(
    "log_format",
    type=click.Choice(["auto", "json", "console"], case_sensitive=False),
    help="json: one JSON object a line; console: readable lines; auto: json unless standard "
    "error is a terminal.",
)
_reuse_port_option = setting_option(
    "reuse_port",
    help="Share the port with processes already listening on it (SO_REUSEPORT; the kernel "
    "splits connections between them). Without it a taken port stops the start-up.",
)
_demo_step_delay_option = setting_option(
    "demo_step_delay",
    type=click.FloatRange(0, 3600),
    help="Seconds between the demo caching steps.",
)


# An origin as browsers send it: scheme, host and maybe a port; no path, no trailing slash.
_ORIGIN = re.compile(r"https?://[^/\s]+")


def _check_origins(
    context: click.Context, parameter: click.Parameter, origins: tuple[str, ...]
) -> tuple[str, ...]:
    for origin in origins:
        if origin != "*" and not _ORIGIN.fullmatch(origin):
            raise click.BadParameter(
                f"{origin!r} is not an origin: expected '*' or scheme://host[:port], such as "
                "https://console.example.com (no path, no trailing slash)"
            )
    return origins


_cors_origin_option = setting_option(
    "cors_origins",
    "--cors-origin",
    multiple=True,
    callback=_check_origins,
    help="An origin whose pages may read the answers (repeat the flag for more; the variable "
    "takes them space-separated); '*' allows any, as PSM does.",
)


def _seconds_option(field_name: str, help_text: str, minimum: float = 0.01) -> Callable[[F], F]:
    return setting_option(field_name, type=click.FloatRange(minimum, 86_400), help=help_text)


_ENGINE_OPTIONS = (
    _seconds_option("lease_seconds", "How long a claimed job stays this worker's."),
    _seconds_option("heartbeat_seconds", "How often running jobs' leases are renewed."),
    _seconds_option("rescue_interval", "How often to rescue jobs whose lease expired."),
    _seconds_option("cancel_grace", "A cancelled handler's time to stop by itself.", 0),
    _seconds_option("shutdown_grace", "Running handlers' time to end on SIGTERM.", 0),
    setting_option(
        "db_pool_size",
        type=click.IntRange(1, 1000),
        help="PostgreSQL connections this process may open, besides two of its own.",
    ),
    setting_option(
        "retention_days",
        type=click.FloatRange(0, 36_500),
        help="Days ended jobs and audit events are kept (0: forever); per domain and service "
        "type in the --config file's [retention].",
    ),
    _seconds_option(
        "prune_interval", "How often to prune what the retention lets go (0: never).", 0
    ),
    setting_option(
        "prune_batch_size",
        type=click.IntRange(1, 100_000),
        help="Rows removed per prune transaction.",
    ),
    setting_option(
        "sqlite_wal_index",
        help="SQLite: tell unchanged jobs from the WAL index's header (checked at start-up) "
        "rather than PRAGMA data_version.",
    ),
)


_OPEN_REQUEST_OPTIONS = tuple(
    setting_option(field_name, type=click.IntRange(0, 1_000_000), help=help_text)
    for field_name, help_text in (
        ("max_streams_per_user", "Event streams one user may hold open at once (0: no cap)."),
        ("max_streams_per_address", "Event streams one client address may hold (0: no cap)."),
        ("max_long_polls_per_user", "?wait long-polls one user may hold open (0: no cap)."),
        ("max_long_polls_per_address", "?wait long-polls one address may hold (0: no cap)."),
    )
)


def _open_request_options(command: F) -> F:
    """The caps on event streams and long-polls held open (docs/security.md)."""
    for option in reversed(_OPEN_REQUEST_OPTIONS):
        command = option(command)
    return command


def _engine_options(command: F) -> F:
    """The lease, rescue, grace and pool settings, which serve and worker share."""
    for option in reversed(_ENGINE_OPTIONS):
        command = option(command)
    return command


def _engine_settings(options: dict[str, Any]) -> Settings:
    """The settings by the one rule: flag > environment > the --config file's [settings] >
    default (cli/settings_sources.py)."""
    with _configuration_errors():
        options = with_file_settings(click.get_current_context(), options, FILE_SETTINGS)
    if options["heartbeat_seconds"] >= options["lease_seconds"]:
        raise click.BadParameter(
            "renew leases more often than they last: --heartbeat-seconds must be below "
            "--lease-seconds",
            param_hint="--heartbeat-seconds",
        )
    return Settings(**options)


_TLS_FILE = click.Path(exists=True, dir_okay=False)


def _tls_options(command: F) -> F:
    """How `serve` keeps Basic credentials off the wire in plain text (transport_security)."""
    options = (
        setting_option(
            "tls_certificate", type=_TLS_FILE, help="PEM certificate chain: serve HTTPS."
        ),
        setting_option("tls_key", type=_TLS_FILE, help="PEM private key of --tls-certificate."),
        setting_option(
            "behind_proxy",
            help="A reverse proxy in front terminates TLS: allow plain HTTP on a non-loopback "
            "--host (its leg of the connection).",
        ),
        setting_option(
            "insecure_http",
            help="Allow plain HTTP on a non-loopback --host with no proxy: passwords cross "
            "the network readable.",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@db_option
@setting_option("host", help="Address to listen on; other than loopback, see --tls-certificate.")
@setting_option("port", type=int, help="Port to listen on.")
@_tls_options
@setting_option(
    "demo", help="Create the demo domain ExampleIdentityDomain and user joe@example.com."
)
@setting_option("concurrency", type=click.IntRange(1, 1000), help="In-process worker slots.")
# The flag and its variable were named for what they switch, before the field was: keep both.
@setting_option(
    "run_worker",
    "--worker/--no-worker",
    envvar="ACTIVITYLOG_WORKER",
    help="Run the in-process worker.",
)
@setting_option(
    "server",
    type=click.Choice(["granian", "uvicorn"]),
    help="The HTTP server: granian (embedded, the faster) or uvicorn.",
)
@_demo_step_delay_option
@setting_option(
    "public_url",
    help="Base URL of the Location headers (the URL clients reach this service at).",
)
@setting_option(
    "trusted_hosts",
    "--trusted-host",
    multiple=True,
    help="A host name whose Host header may become the base of Location headers when there is "
    "no --public-url (repeat for more). Other Hosts get the address served on.",
)
@_cors_origin_option
@setting_option(
    "warn_as_succeed",
    help="Report jobs that ended WARN as SUCCEED (warnings stay in their messages), for PSM "
    "clients that know no WARN, such as the Go library behind Terraform's Oracle PaaS provider.",
)
@security_options
@_open_request_options
@_engine_options
@_config_option
@_log_level_option
@_log_format_option
@setting_option("access_log", help="Log one line per HTTP request.")
@_reuse_port_option
def serve(**options: Any) -> None:
    """Run the HTTP API (and, by default, an in-process worker)."""
    from activitylog import logs, serving  # noqa: PLC0415 - keep the CLI quick to start

    settings = _engine_settings(options)
    problem = serving_problem(settings)
    if problem:
        raise click.ClickException(problem)
    logs.configure_logging(settings.log_level, log_format=settings.log_format)
    with _start_up_errors(settings):
        app = serving.create_app(settings)
        if not settings.reuse_port:
            serving.ensure_port_free(settings.host, settings.port)
        serving.run_event_loop(serving.check_store_opens(settings))
    _log.info(
        "activitylog serving",
        address=served_address(settings),
        store=redact_url(settings.db),
        worker="on" if settings.run_worker else "off",
    )
    store = app.state.context.store
    # A lambda, not the bound method: opening the store gives it a fresh feed.
    close_feed = lambda: store.changes.close()  # noqa: E731, PLW0108
    serving.run_event_loop(serving.serve(app, settings, on_stop=close_feed))


@click.command()
@db_option
@setting_option("concurrency", type=click.IntRange(1, 1000), help="Jobs run at once.")
@setting_option("host", help="Address of the health/metrics port.")
@click.option(
    "--port",
    "health_port",
    envvar="ACTIVITYLOG_WORKER_PORT",
    show_envvar=True,
    default=None,
    type=int,
    help="Serve /health and /metrics on this port.",
)
@_demo_step_delay_option
@_engine_options
@_config_option
@_log_level_option
@_log_format_option
@_reuse_port_option
def worker(health_port: int | None, **options: Any) -> None:
    """Run workers only: claim and run jobs from the database, with no API."""
    from activitylog import logs, serving  # noqa: PLC0415

    settings = _engine_settings(options)
    logs.configure_logging(settings.log_level, log_format=settings.log_format)
    _log.info(
        "activitylog worker",
        store=redact_url(settings.db),
        slots=settings.concurrency,
        health_port=health_port,
    )
    with _start_up_errors(settings):
        if health_port is not None and not settings.reuse_port:
            serving.ensure_port_free(settings.host, health_port)
        serving.run_event_loop(serving.run_worker_process(settings, health_port=health_port))


@contextlib.contextmanager
def _configuration_errors() -> Iterator[None]:
    """A bad configuration file is the operator's to fix: say what is wrong, no traceback."""
    try:
        yield
    except errors.InvalidConfiguration as exc:
        raise click.ClickException(exc.message) from exc


@contextlib.contextmanager
def _start_up_errors(settings: Settings) -> Iterator[None]:
    """What stops a start-up is the operator's to fix (a bad configuration file, a taken
    port, a database out of reach): say what is wrong in one line, no traceback."""
    try:
        yield
    except (errors.InvalidConfiguration, errors.CannotListen) as exc:
        raise click.ClickException(exc.message) from exc
    except errors.StoreUnavailable as exc:
        raise click.ClickException(cannot_open(settings.db, exc)) from exc


SERVER_COMMANDS: list[click.Command] = [serve, worker]

FILE_SETTINGS = frozenset(
    param.name for param in serve.params if param.name in SETTINGS_DEFAULTS
) - {"config"}
"""What a --config file's [settings] table may set: what `serve` has a flag for (a `worker`
takes those of them it has flags for too)."""
