"""Where the client commands find the server and the credentials: flags, environment, profile.

Each setting comes from its flag, else its ``ACTIVITYLOG_*`` variable, else the saved profile;
the password from ``--password-stdin``, else ``ACTIVITYLOG_PASSWORD``, else the profile (when it
is for the same user and domain), else a prompt. This is the command line's edge: the only
place the client reads the environment.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from activitylog.cli.exit_codes import EXIT_USAGE
from activitylog.cli.profiles import PROFILE_FILE_NAME, Profile, ProfileError, load_profile
from activitylog.client import Client

F = TypeVar("F", bound=Callable[..., Any])
Option = Callable[[Any], Any]
Connect = Callable[..., "Connection"]
PASSWORD_VARIABLE = "ACTIVITYLOG_PASSWORD"  # noqa: S105 - a variable name, not a password


@dataclasses.dataclass(frozen=True, slots=True)
class Connection:
    url: str
    user: str
    domain: str
    password: str = dataclasses.field(repr=False)

    def client(self, **options: Any) -> Client:
        return Client(
            self.url,
            user=self.user,
            password=self.password,
            identity_domain=self.domain,
            **options,
        )


def default_profile_file() -> Path:
    return Path(click.get_app_dir("activitylog")) / PROFILE_FILE_NAME


profile_options: list[Option] = [
    click.option(
        "--profile",
        "profile_name",
        envvar="ACTIVITYLOG_PROFILE",
        default="default",
        show_default=True,
        help="Saved profile to use (see `activitylog login`).",
        show_envvar=True,
    ),
    click.option(
        "--profile-file",
        envvar="ACTIVITYLOG_PROFILE_FILE",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        # click.get_app_dir's answer depends on the platform: name the usual one.
        help="Where profiles are saved [default: ~/.config/activitylog/profile.json].",
        show_envvar=True,
    ),
]
server_options: list[Option] = [
    click.option("--url", envvar="ACTIVITYLOG_URL", help="Server base URL.", show_envvar=True),
    click.option("--user", envvar="ACTIVITYLOG_USER", help="User name.", show_envvar=True),
    click.option(
        "--domain",
        envvar="ACTIVITYLOG_DOMAIN",
        help="Identity domain.",
        show_envvar=True,
    ),
    click.option(
        "--password-stdin",
        is_flag=True,
        help="Read the password from standard input; without it, from "
        f"{PASSWORD_VARIABLE}, the profile, or a prompt.",
    ),
]


def with_options(options: Sequence[Option], command: F) -> F:
    for option in reversed(options):
        command = option(command)
    return command


def connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the server and profile options; the command receives ``connect``, which settles them."""

    @functools.wraps(command)
    def with_connection(
        *args: Any,
        url: str | None,
        user: str | None,
        domain: str | None,
        password_stdin: bool,
        profile_name: str,
        profile_file: Path | None,
        **kwargs: Any,
    ) -> Any:
        given = Profile(url or "", user or "", domain or "")
        saved = read_profile(profile_file, profile_name)
        resolve = functools.partial(resolve_connection, given, saved, password_stdin)
        return command(*args, connect=resolve, **kwargs)

    return with_options([*server_options, *profile_options], with_connection)


def read_profile(profile_file: Path | None, name: str) -> Profile | None:
    try:
        return load_profile(profile_file or default_profile_file(), name)
    except ProfileError as exc:
        raise click.UsageError(str(exc)) from exc


def resolve_connection(
    given: Profile,
    saved: Profile | None,
    password_stdin: bool,
    *,
    url: str | None = None,
    domain: str | None = None,
) -> Connection:
    """Settle every setting; ``url`` and ``domain`` (from a job URL) override the rest."""
    saved = saved or Profile("", "", "")
    settled = Profile(
        url or given.url or saved.url,
        given.user or saved.user,
        domain or given.domain or saved.domain,
    )
    missing = [
        f"--{flag} (or ACTIVITYLOG_{flag.upper()})"
        for flag, value in (
            ("url", settled.url),
            ("user", settled.user),
            ("domain", settled.domain),
        )
        if not value
    ]
    if missing:
        raise click.UsageError(
            f"Missing {', '.join(missing)}; or save them once with `activitylog login`."
        )
    same_account = (saved.user, saved.domain) == (settled.user, settled.domain)
    password = read_password(password_stdin, saved.password if same_account else "", settled.user)
    return Connection(settled.url, settled.user, settled.domain, password)


def read_password(from_stdin: bool, saved: str, user: str) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    from_environment = os.environ.get(PASSWORD_VARIABLE)
    if from_environment:
        return from_environment
    if saved:
        return saved
    return ask(
        f"Password for {user}",
        hide_input=True,
        instead=f"give it with --password-stdin or {PASSWORD_VARIABLE}",
    )


class NoTerminal(click.ClickException):
    """A usage error in one line: no usage text, the fix is in the message."""

    exit_code = EXIT_USAGE


def ask(text: str, *, instead: str, hide_input: bool = False, confirm: bool = False) -> str:
    """Prompt on the terminal; with none (a pipe, a file, cron), a usage error (exit 2) saying
    what to give ``instead``, rather than reading a stray line or a warning and ``Aborted!``."""
    if not sys.stdin.isatty():
        raise NoTerminal(
            f"{text}: standard input is not a terminal, so it cannot be asked for; {instead}."
        )
    return str(click.prompt(text, hide_input=hide_input, confirmation_prompt=confirm))
