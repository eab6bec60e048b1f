"""`cancel`, `instances`, `users` and `domain list` through click's CliRunner, and `login`
without a terminal: against a real server on loopback, as a user would run them."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from activitylog.cli.exit_codes import EXIT_ERROR, EXIT_FAILED, EXIT_SUCCEED, EXIT_USAGE
from tests.cli.test_client_commands import RunCli, logged_in, profile_file, run_cli  # noqa: F401
from tests.client.conftest import DOMAIN, PASSWORD, USER
from tests.e2e.conftest import RunningServer, StartServer

pytestmark = pytest.mark.e2e


def test_cancel_a_running_job(
    start_server: StartServer,
    run_cli: RunCli,  # noqa: F811 - the imported fixture
) -> None:
    slow = start_server("--demo", "--db", "slow.db", "--demo-step-delay", "0.4")  # 2 s a job
    env = {"url": slow.url, "user": USER, "password": PASSWORD, "domain": DOMAIN}
    job_id = run_cli("create", "caching", "Stopped", **env).stdout.strip()
    cancelled = run_cli("cancel", job_id, "--wait", "--interval", "0.05", **env)
    assert cancelled.exit_code == EXIT_FAILED, cancelled.output
    assert f"job {job_id}" in cancelled.stderr
    assert f"Cancellation requested by {USER}" in cancelled.stdout
    again = run_cli("cancel", job_id, **env)
    assert again.exit_code == EXIT_ERROR
    assert "409" in again.output


def test_cancel_json_and_by_url(
    server: RunningServer,
    logged_in: RunCli,  # noqa: F811
) -> None:
    job_id = logged_in("create", "caching", "CancelledByUrl").stdout.strip()
    url = f"{server.url}/paas/api/v1.1/activitylog/{DOMAIN}/job/{job_id}"
    cancelled = logged_in("cancel", url, "--json")
    assert cancelled.exit_code == EXIT_SUCCEED, cancelled.output
    assert json.loads(cancelled.stdout)["jobId"] == int(job_id)
    assert logged_in("status", job_id, "--wait").exit_code == EXIT_FAILED


def test_instances_list_and_show(logged_in: RunCli) -> None:  # noqa: F811
    created = logged_in("create", "caching", "Shown", "--size", "2", "--wait")
    assert created.exit_code == EXIT_SUCCEED, created.output
    listed = logged_in("instances", "list", "caching", "--json")
    assert listed.exit_code == EXIT_SUCCEED, listed.output
    [service] = json.loads(listed.stdout)["services"]
    assert (service["serviceName"], service["serviceParameters"]["size"]) == ("Shown", "2")
    table = logged_in("instances", "list", "caching", "--utc")
    assert "Shown" in table.stdout
    assert "size=2" in table.stdout
    assert "UTC" in table.stdout
    shown = logged_in("instances", "show", "caching", "Shown", "--json")
    assert json.loads(shown.stdout) == service
    text = logged_in("instances", "show", "caching", "Shown")
    assert f"by {USER}" in text.stdout
    missing = logged_in("instances", "show", "caching", "Missing")
    assert missing.exit_code == EXIT_ERROR
    assert "404" in missing.output


def test_users_add_list_set_role_and_remove(logged_in: RunCli) -> None:  # noqa: F811
    added = logged_in(
        "users", "add", "ann@example.com", "--role", "operator", "--new-password-stdin",
        input="annPassword\n",
    )  # fmt: skip
    assert added.exit_code == EXIT_SUCCEED, added.output
    assert added.stdout == f"Added user ann@example.com (operator) to {DOMAIN}\n"
    again = logged_in(
        "users", "add", "ann@example.com", "--new-password-stdin", input="otherPassword\n"
    )
    assert again.exit_code == EXIT_ERROR
    assert "exists already" in again.output
    assert logged_in("users", "set-role", "ann@example.com", "admin").exit_code == EXIT_SUCCEED
    listed = logged_in("users", "list", "--json")
    assert json.loads(listed.stdout) == {
        "users": [{"name": "ann@example.com", "role": "admin"}, {"name": USER, "role": "admin"}]
    }
    unknown = logged_in("users", "set-role", "bob@example.com", "viewer")
    assert unknown.exit_code == EXIT_ERROR
    assert "No user [bob@example.com]" in unknown.output
    removed = logged_in("users", "remove", "ann@example.com")
    assert removed.exit_code == EXIT_SUCCEED, removed.output
    assert "ann@example.com" not in logged_in("users", "list").stdout


def test_users_add_without_a_terminal_or_new_password_is_a_usage_error(
    logged_in: RunCli,  # noqa: F811
) -> None:
    result = logged_in("users", "add", "ann@example.com")
    assert result.exit_code == EXIT_USAGE
    assert "--new-password-stdin" in result.output


def test_domain_list_reads_the_database(tmp_path: Path) -> None:
    db = str(tmp_path / "domains.db")
    for name in ("second", "first"):
        added = _activitylog("domain", "add", "--db", db, name)
        assert added.returncode == 0, added.stderr
    listed = _activitylog("domain", "list", "--db", db)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == "first\nsecond\n"


def test_login_without_a_terminal_is_one_line_and_exit_2(server: RunningServer) -> None:
    result = _activitylog(
        "login", "--url", server.url, "--user", USER, "--domain", DOMAIN, stdin=subprocess.DEVNULL
    )
    assert result.returncode == EXIT_USAGE
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "Warning" not in result.stderr
    assert "Aborted" not in result.stderr
    assert "--password-stdin" in result.stderr
    assert "ACTIVITYLOG_PASSWORD" in result.stderr
    missing_url = _activitylog("login", "--password-stdin", stdin=subprocess.DEVNULL)
    assert missing_url.returncode == EXIT_USAGE
    assert "--url" in missing_url.stderr


def test_a_wrong_password_at_login_says_what_to_check(
    server: RunningServer,
    run_cli: RunCli,  # noqa: F811
) -> None:
    result = run_cli(
        "login", "--url", server.url, "--user", USER, "--domain", DOMAIN, "--password-stdin",
        input="wrong-password\n",
    )  # fmt: skip
    assert result.exit_code == EXIT_ERROR
    assert "activitylog login" not in result.output
    assert f"Tried user {USER!r} in identity domain {DOMAIN!r}" in result.output
    assert "Nothing was saved" in result.output


def _activitylog(
    *args: str, stdin: int | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own, with no ACTIVITYLOG_* but those in ``env``."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACTIVITYLOG_")}
    return subprocess.run(
        [sys.executable, "-m", "activitylog", *args],
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
        check=False,
    )


def test_status_shows_dates_in_the_local_zone_or_utc(server: RunningServer) -> None:
    env = {
        "ACTIVITYLOG_URL": server.url,
        "ACTIVITYLOG_USER": USER,
        "ACTIVITYLOG_PASSWORD": PASSWORD,
        "ACTIVITYLOG_DOMAIN": DOMAIN,
    }
    job_id = _activitylog("create", "caching", "Zoned", "--wait", env=env).stdout.split()[0]
    job = json.loads(_activitylog("status", job_id, "--json", env=env).stdout)
    started = dt.datetime.strptime(job["startDate"], "%Y-%m-%dT%H:%M:%S.%f%z")

    kolkata = _activitylog("status", job_id, env={**env, "TZ": "Asia/Kolkata"}).stdout
    local = started.astimezone(dt.timezone(dt.timedelta(hours=5, minutes=30)))
    assert f"Started  {local:%Y-%m-%d %H:%M:%S} IST" in kolkata
    assert f"{local:%Y-%m-%d %H:%M:%S}.{local.microsecond // 1000:03d} IST  Activity" in kolkata

    utc = _activitylog("status", job_id, "--utc", env={**env, "TZ": "Asia/Kolkata"}).stdout
    assert f"Started  {started:%Y-%m-%d %H:%M:%S} UTC" in utc
    assert " IST" not in utc
