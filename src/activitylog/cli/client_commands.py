"""The client commands, for any activitylog server over HTTP: login, status, cancel,
activities, and the operations (create, delete, start, stop, restart, scale). Exit codes: see
exit_codes.py."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal, cast

import click
from rich.console import Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from activitylog.cli import rendering
from activitylog.cli.connection import (
    Connect,
    Connection,
    Option,
    ask,
    connection_options,
    default_profile_file,
    profile_options,
    read_password,
    with_options,
)
from activitylog.cli.exit_codes import EXIT_SUCCEED, EXIT_TIMEOUT, exit_code_for_job
from activitylog.cli.profiles import Profile, ProfileError, remove_profile, save_profile
from activitylog.cli.rendering import TimeZoneChoice
from activitylog.client import (
    ActivityFilters,
    Client,
    ClientError,
    InvalidJobUrl,
    Job,
    Poller,
    Submission,
    Unauthorized,
    WaitTimeout,
    split_job_url,
)

JOB_STATUSES = ("NEW", "RUNNING", "SUCCEED", "FAILED", "WARN")


def reporting_client_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn client errors into a one-line message and the exit code that tells them apart."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except WaitTimeout as exc:
            raise WaitTimedOut(exc.message) from exc
        except Unauthorized as exc:
            raise click.ClickException(
                f"{exc}\n(check the credentials, or run `activitylog login`)"
            ) from exc
        except ClientError as exc:
            raise click.ClickException(str(exc)) from exc

    return run


class WaitTimedOut(click.ClickException):
    exit_code = EXIT_TIMEOUT


def _finish(job: Job) -> None:
    code = exit_code_for_job(job)
    if code != EXIT_SUCCEED:
        click.get_current_context().exit(code)


wait_options: list[Option] = [
    click.option("--wait", is_flag=True, help="Wait until the job ends; exit with its outcome."),
    click.option("--follow", is_flag=True, help="Print messages as they arrive, until the end."),
    click.option(
        "--timeout",
        type=click.FloatRange(min=0),
        default=None,
        metavar="SECONDS",
        help="Give up waiting after this many seconds (exit code 5).",
    ),
    click.option(
        "--interval",
        type=click.FloatRange(min=0.01),
        default=1.0,
        metavar="SECONDS",
        show_default=True,
        help="Seconds between polls.",
    ),
    click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per line)."),
    rendering.time_zone_option,
]


# -- login / logout ------------------------------------------------------------------------


@click.command()
@click.option("--url", envvar="ACTIVITYLOG_URL", help="Server base URL.", show_envvar=True)
@click.option("--user", envvar="ACTIVITYLOG_USER", help="User name.", show_envvar=True)
@click.option("--domain", envvar="ACTIVITYLOG_DOMAIN", help="Identity domain.", show_envvar=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Check the credentials against the server before saving them.",
)
@functools.partial(with_options, profile_options)
@reporting_client_errors
def login(
    url: str | None,
    user: str | None,
    domain: str | None,
    password_stdin: bool,
    verify: bool,
    profile_name: str,
    profile_file: Path | None,
) -> None:
    """Save a server, user, identity domain and password as a profile (a file only you can read).

    What the flags and environment do not give is asked for on the terminal.
    """
    url = url or ask("Server URL", instead="give --url or ACTIVITYLOG_URL")
    user = user or ask("User", instead="give --user or ACTIVITYLOG_USER")
    domain = domain or ask("Identity domain", instead="give --domain or ACTIVITYLOG_DOMAIN")
    password = read_password(password_stdin, "", user)
    if verify:
        _verify_login(Connection(url, user, domain, password))
    path = profile_file or default_profile_file()
    try:
        save_profile(path, profile_name, Profile(url, user, domain, password))
    except (ProfileError, OSError) as exc:
        raise click.ClickException(f"Cannot save the profile: {exc}") from exc
    click.echo(f"Saved profile {profile_name!r} ({user} in {domain} at {url}) to {path}")


def _verify_login(connection: Connection) -> None:
    """One search, to learn that the server knows these credentials before they are saved."""
    try:
        with connection.client() as client:
            client.activity_page(limit=1)
    except Unauthorized as exc:
        raise click.ClickException(
            f"{exc}\n(Tried user {connection.user!r} in identity domain {connection.domain!r}; "
            "both names are case-sensitive, and the user must belong to that domain. "
            "Nothing was saved.)"
        ) from exc


@click.command()
@functools.partial(with_options, profile_options)
def logout(profile_name: str, profile_file: Path | None) -> None:
    """Forget a saved profile and its password."""
    path = profile_file or default_profile_file()
    try:
        removed = remove_profile(path, profile_name)
    except ProfileError as exc:
        raise click.UsageError(str(exc)) from exc
    click.echo(f"Removed profile {profile_name!r}" if removed else f"No profile {profile_name!r}")


# -- status ------------------------------------------------------------------------------------


@click.command()
@click.argument("job")
@functools.partial(with_options, wait_options)
@connection_options
@reporting_client_errors
def status(
    job: str,
    connect: Connect,
    wait: bool,
    follow: bool,
    timeout: float | None,
    interval: float,
    as_json: bool,
    zone: TimeZoneChoice,
) -> None:
    """Show job JOB (its id, or its URL as a 202's Location gives it).

    Exits 0 for SUCCEED, 3 FAILED, 4 WARN, 5 on timeout, 6 not ended yet (without --wait).
    """
    with _poller(job, connect, interval) as poller:
        if wait or follow:
            ended = show_until_end(
                poller, follow=follow, as_json=as_json, timeout=timeout, zone=zone
            )
        else:
            ended = poller.poll()
            if as_json:
                click.echo(rendering.job_json(ended))
            else:
                rendering.print_job(rendering.output_console(), ended, zone=zone)
    _finish(ended)


@click.command("operation-status")
@click.option("-j", "--job-id", "job", required=True, help="The job's id (or its URL).")
@click.option(
    "-of",
    "--output-format",
    type=click.Choice(["json", "short"], case_sensitive=False),
    default="short",
    show_default=True,
    help="json: the job body; short: a summary and its messages.",
)
@rendering.time_zone_option
@connection_options
@reporting_client_errors
def operation_status(job: str, connect: Connect, output_format: str, zone: TimeZoneChoice) -> None:
    """Show job JOB_ID once, as `psm <service> operation-status -j JOB_ID` does.

    Exits as `status` does: 0 SUCCEED, 3 FAILED, 4 WARN, 6 not ended yet.
    """
    with _poller(job, connect, interval=1.0) as poller:
        answer = poller.poll()
    if output_format.lower() == "json":
        click.echo(rendering.job_json(answer))
    else:
        rendering.print_job(rendering.output_console(), answer, zone=zone)
    _finish(answer)


@contextlib.contextmanager
def _poller(job: str, connect: Connect, interval: float) -> Iterator[Poller]:
    """A poller for JOB: a job id, or a job URL (which names the server and the domain)."""
    if job.isdigit():
        with connect().client(poll_interval=interval) as client:
            yield client.poller(int(job))
        return
    try:
        base_url, domain, _ = split_job_url(job)
    except InvalidJobUrl as exc:
        raise click.BadParameter(str(exc), param_hint="JOB") from exc
    with connect(url=base_url, domain=domain).client(poll_interval=interval) as client:
        yield client.job_from_url(job)


# -- cancel ------------------------------------------------------------------------------------


@click.command()
@click.argument("job")
@functools.partial(with_options, wait_options)
@connection_options
@reporting_client_errors
def cancel(
    job: str,
    connect: Connect,
    wait: bool,
    follow: bool,
    timeout: float | None,
    interval: float,
    as_json: bool,
    zone: TimeZoneChoice,
) -> None:
    """Cancel job JOB (its id, or its URL).

    A NEW job ends FAILED at once; a RUNNING one is asked to stop, and ends FAILED soon after.

    Exits 0 once the server took the cancellation; with --wait, 3 when the job ended FAILED (as
    a cancelled job does), 0 or 4 when it ended SUCCEED or WARN before it could be stopped.
    """
    with _poller(job, connect, interval) as poller:
        now = poller.cancel()
        if as_json and not (wait or follow):
            click.echo(rendering.job_json(now))
        elif not as_json:
            click.echo(_cancelled_text(now), err=True)
        if not (wait or follow):
            return
        ended = show_until_end(poller, follow=follow, as_json=as_json, timeout=timeout, zone=zone)
    _finish(ended)


def _cancelled_text(job: Job) -> str:
    if job.ended:
        return f"Cancelled job {job.job_id}: it ended {job.status}."
    return (
        f"Asked the worker of job {job.job_id} to stop it; it ends FAILED soon "
        f"(`activitylog status {job.job_id} --wait` to see it end)."
    )


def show_until_end(
    poller: Poller,
    *,
    follow: bool,
    as_json: bool,
    timeout: float | None,
    zone: TimeZoneChoice = None,
) -> Job:
    """Poll until the job ends, printing messages as they arrive with ``follow``."""
    if as_json:
        for message in poller.follow(timeout=timeout) if follow else ():
            click.echo(rendering.message_json(message))
        ended = poller.wait(timeout)
        click.echo(rendering.job_json(ended))
        return ended
    console = rendering.output_console()
    live_status = _LiveStatus(zone)
    with (
        Live(live_status, console=console, transient=True)
        if console.is_terminal
        else contextlib.nullcontext()
    ):
        for update in poller.watch(timeout):
            live_status.job = update.job
            for message in update.new_messages if follow else ():
                console.print(rendering.message_line(message, zone))
    ended = poller.wait(timeout)
    if follow:
        console.print()
    rendering.print_job(console, ended, with_messages=not follow, zone=zone)
    return ended


class _LiveStatus:
    """A spinner with the job's status, elapsed time and progress, redrawn as time passes."""

    def __init__(self, zone: TimeZoneChoice) -> None:
        self.job: Job | None = None
        self.zone = zone

    def __rich__(self) -> RenderableType:
        if self.job is None:
            return Spinner("dots", "Asking the server...")
        return Group(
            Spinner("dots", Text("Waiting for the job to end")),
            rendering.job_status(self.job, self.zone),
        )


# -- activities --------------------------------------------------------------------------------


@click.command()
# The psm CLI's short flags and long names too (`psm <service> activities`), so its users'
# habits and scripts carry over: -s -f -t -a -o -l -e -d -of.
@click.option("-s", "--service-name", help="Exact service instance name.")
@click.option("--service-type", help="Exact service type, e.g. caching.")
@click.option(
    "-a",
    "--status",
    multiple=True,
    type=click.Choice(JOB_STATUSES, case_sensitive=False),
    help="Repeatable: jobs in any of these statuses.",
)
@click.option(
    "-o",
    "--operation-type",
    multiple=True,
    help="Repeatable: e.g. CREATE_SERVICE, SCALE_SERVICE.",
)
@click.option(
    "-f",
    "--from",
    "--from-start-date",
    "from_start_date",
    help="Started at or after: YYYY-MM-DD[THH:MM:SS].",
)
@click.option(
    "-t",
    "--to",
    "--to-start-date",
    "to_start_date",
    help="Started at or before: YYYY-MM-DD[THH:MM:SS].",
)
@click.option("-d", "--order-by", help="field:asc or field:desc  [server default: startDate:desc]")
@click.option(
    "-l",
    "--limit",
    "--limit-row-count",
    "limit",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Rows per page (psm's default, 10).",
)
@click.option("-e", "--offset", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--all", "every_page", is_flag=True, help="Every match from --offset on, page by page."
)
@click.option(
    "--json", "as_json", is_flag=True, help='Print {"activityLogs":[...],"totalCount":N}.'
)
@rendering.time_zone_option
@click.option(
    "-of",
    "--output-format",
    type=click.Choice(["json", "short"], case_sensitive=False),
    help="psm's name for the output: json (as --json) or short (the table).",
)
@connection_options
@reporting_client_errors
def activities(
    connect: Connect,
    limit: int,
    offset: int,
    every_page: bool,
    as_json: bool,
    zone: TimeZoneChoice,
    output_format: str | None,
    **filters: Any,
) -> None:
    """Search the identity domain's activity log."""
    as_json = as_json or (output_format or "").lower() == "json"
    search = cast(ActivityFilters, {key: value for key, value in filters.items() if value})
    with connect().client() as client:
        if every_page:
            jobs = list(client.activities(offset=offset, **search))
            total = offset + len(jobs)
        else:
            page = client.activity_page(offset=offset, limit=limit, **search)
            jobs, total = list(page.jobs), page.total_count
    if as_json:
        click.echo(rendering.page_json(jobs, total))
        return
    shown = f"{offset + 1}-{offset + len(jobs)}" if jobs else "none"
    caption = f"Showing {shown} of {total}."
    if offset + len(jobs) < total:
        caption += f" Next: --offset {offset + len(jobs)}"
    rendering.output_console().print(rendering.activities_table(jobs, caption, zone))


# -- operations ------------------------------------------------------------------------------


def _parse_params(
    ctx: click.Context, param: click.Parameter, values: tuple[str, ...]
) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in values:
        key, sign, value = item.partition("=")
        if not sign or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", ctx, param)
        parsed[key] = value
    return parsed


parameter_options: list[Option] = [
    click.option(
        "--param",
        "params",
        multiple=True,
        callback=_parse_params,
        metavar="KEY=VALUE",
        help="Repeatable: a service parameter, sent as a string.",
    ),
]

Submit = Callable[[Client, str, str, dict[str, str]], Submission]
SizeFlag = Literal["none", "optional", "required"]


def operation_command(
    name: str, summary: str, submit: Submit, *, size_flag: SizeFlag = "none"
) -> click.Command:
    """A command NAME SERVICE_TYPE NAME that submits an operation and, if asked, waits for it."""

    @reporting_client_errors
    def run(
        service_type: str,
        instance: str,
        connect: Connect,
        wait: bool,
        follow: bool,
        timeout: float | None,
        interval: float,
        as_json: bool,
        zone: TimeZoneChoice,
        params: dict[str, str] | None = None,
        size: str | None = None,
    ) -> None:
        parameters = {**(params or {}), **({"size": size} if size else {})}
        with connect().client(poll_interval=interval) as client:
            submission = submit(client, service_type, instance, parameters)
            _print_submission(submission, as_json)
            if not (wait or follow):
                return
            poller = client.poller(submission.job_id)
            ended = show_until_end(
                poller, follow=follow, as_json=as_json, timeout=timeout, zone=zone
            )
        _finish(ended)

    options = [*wait_options]
    if size_flag != "none":
        required = size_flag == "required"
        options += [
            click.option("--size", required=required, help="Size in the service's unit."),
            *parameter_options,
        ]
    decorated = with_options(options, connection_options(run))
    decorated = click.argument("instance", metavar="NAME")(decorated)
    decorated = click.argument("service_type")(decorated)
    return click.command(name, help=summary)(decorated)


def _print_submission(submission: Submission, as_json: bool) -> None:
    if as_json:
        click.echo(rendering.submission_json(submission))
        return
    click.echo(submission.job_id)
    click.echo(f"{submission.message} Job: {submission.location}", err=True)


create = operation_command(
    "create",
    "Create service instance NAME of SERVICE_TYPE (e.g. caching); print the job id.",
    lambda client, service_type, name, parameters: client.create(service_type, name, **parameters),
    size_flag="optional",
)
scale = operation_command(
    "scale",
    "Scale service instance NAME to --size; print the job id.",
    lambda client, service_type, name, parameters: client.scale(service_type, name, **parameters),
    size_flag="required",
)
delete = operation_command(
    "delete",
    "Delete service instance NAME; print the job id.",
    lambda client, service_type, name, _: client.delete(service_type, name),
)
start = operation_command(
    "start",
    "Start the hosts of service instance NAME; print the job id.",
    lambda client, service_type, name, _: client.start(service_type, name),
)
stop = operation_command(
    "stop",
    "Stop the hosts of service instance NAME; print the job id.",
    lambda client, service_type, name, _: client.stop(service_type, name),
)
restart = operation_command(
    "restart",
    "Restart the hosts of service instance NAME; print the job id.",
    lambda client, service_type, name, _: client.restart(service_type, name),
)

CLIENT_COMMANDS: list[click.Command] = [
    login,
    logout,
    status,
    cancel,
    operation_status,
    activities,
    create,
    delete,
    start,
    stop,
    restart,
    scale,
]
