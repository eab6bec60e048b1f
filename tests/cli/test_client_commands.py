"""The client commands through click's CliRunner, against a real server on loopback."""

from __future__ import annotations

import datetime as dt
import json
import os
import pty
import select
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from rich.console import Console

from activitylog.cli import main
from activitylog.cli.exit_codes import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_PENDING,
    EXIT_SUCCEED,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    EXIT_WARN,
    exit_code_for_job,
    exit_code_for_status,
)
from activitylog.cli.rendering import print_job
from activitylog.client import Job
from tests.client.conftest import DOMAIN, PASSWORD, USER
from tests.e2e.conftest import RunningServer, StartServer

pytestmark = pytest.mark.e2e
RunCli = Callable[..., Result]
_CLIENT_VARIABLES = ("URL", "USER", "PASSWORD", "DOMAIN", "PROFILE", "PROFILE_FILE")


@pytest.fixture
def profile_file(tmp_path: Path) -> Path:
    return tmp_path / "config" / "activitylog" / "profile.json"


@pytest.fixture
def run_cli(profile_file: Path) -> RunCli:
    """Run `activitylog ARGS...` in-process with only the environment the test gives."""

    def run(*args: str, input: str | None = None, **env: str) -> Result:
        clean: dict[str, str | None] = {f"ACTIVITYLOG_{n}": None for n in _CLIENT_VARIABLES}
        clean["ACTIVITYLOG_PROFILE_FILE"] = str(profile_file)
        clean |= {f"ACTIVITYLOG_{name.upper()}": value for name, value in env.items()}
        return CliRunner().invoke(main, list(args), input=input, env=clean)

    return run


@pytest.fixture
def logged_in(server: RunningServer, run_cli: RunCli) -> RunCli:
    """``run_cli`` after a successful `activitylog login`."""
    result = run_cli(
        "login",
        "--url",
        server.url,
        "--user",
        USER,
        "--domain",
        DOMAIN,
        "--password-stdin",
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    return run_cli


def test_login_saves_a_private_profile(
    server: RunningServer, logged_in: RunCli, profile_file: Path
) -> None:
    mode = stat.S_IMODE(profile_file.stat().st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(profile_file.parent.stat().st_mode) & 0o077 == 0
    saved = json.loads(profile_file.read_text())["profiles"]["default"]
    assert (saved["url"], saved["user"], saved["domain"]) == (server.url, USER, DOMAIN)
    result = logged_in("activities")
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output


def test_login_output_never_shows_the_password(server: RunningServer, profile_file: Path) -> None:
    """On a real terminal (a pseudo-terminal): the prompt does not echo what is typed."""
    main_fd, terminal_fd = pty.openpty()
    process = subprocess.Popen(  # the login's one prompt is the password's
        [sys.executable, "-m", "activitylog", "login", "--url", server.url, "--user", USER,
         "--domain", DOMAIN, "--profile-file", str(profile_file)],
        stdin=terminal_fd, stdout=terminal_fd, stderr=terminal_fd,
        env={k: v for k, v in os.environ.items() if not k.startswith("ACTIVITYLOG_")},
    )  # fmt: skip
    os.close(terminal_fd)
    output = _read_until(main_fd, b"Password for")
    os.write(main_fd, f"{PASSWORD}\n".encode())
    output += _read_until(main_fd, b"Saved profile")
    assert process.wait(timeout=30) == 0, output
    os.close(main_fd)
    assert PASSWORD.encode() not in output
    assert b"Saved profile 'default'" in output


def _read_until(fd: int, expected: bytes, seconds: float = 30.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + seconds
    while expected not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen += os.read(fd, 4096)
            except OSError:  # the terminal closed: the process has ended
                break
    return seen


def test_login_with_a_wrong_password_saves_nothing(
    server: RunningServer, run_cli: RunCli, profile_file: Path
) -> None:
    result = run_cli(
        "login",
        "--url",
        server.url,
        "--user",
        USER,
        "--domain",
        DOMAIN,
        "--password-stdin",
        input="wrong-password\n",
    )
    assert result.exit_code == EXIT_ERROR
    assert "401" in result.output
    assert not profile_file.exists()


def test_logout_forgets_the_profile(logged_in: RunCli, profile_file: Path) -> None:
    assert logged_in("logout").exit_code == 0
    assert "default" not in json.loads(profile_file.read_text())["profiles"]
    assert logged_in("activities").exit_code == EXIT_USAGE


def test_a_profile_others_can_read_is_refused(logged_in: RunCli, profile_file: Path) -> None:
    os.chmod(profile_file, 0o644)
    result = logged_in("activities")
    assert result.exit_code == EXIT_USAGE
    assert "chmod 600" in result.output


def test_missing_credentials_are_a_usage_error(run_cli: RunCli) -> None:
    result = run_cli("status", "1")
    assert result.exit_code == EXIT_USAGE
    assert "--url" in result.output
    assert "activitylog login" in result.output


def test_credentials_from_the_environment(server: RunningServer, run_cli: RunCli) -> None:
    env = {"url": server.url, "user": USER, "password": PASSWORD, "domain": DOMAIN}
    created = run_cli("create", "caching", "FromEnv", "--wait", "--interval", "0.02", **env)
    assert created.exit_code == EXIT_SUCCEED, created.output
    job_id = created.stdout.splitlines()[0]
    assert job_id.isdigit()
    assert run_cli("status", job_id, **env).exit_code == EXIT_SUCCEED


def test_create_wait_prints_the_job_id_and_exits_0(logged_in: RunCli) -> None:
    result = logged_in("create", "caching", "Waited", "--size", "2", "--wait", "--interval", "0.02")
    assert result.exit_code == EXIT_SUCCEED, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "1"
    assert "SUCCEED" in result.stdout
    assert "Acquired resources for instance(2G)" in result.stdout
    assert "Submitted job to create service [Waited]" in result.stderr


def test_create_without_wait_prints_only_the_job_id(logged_in: RunCli) -> None:
    result = logged_in("create", "caching", "Quick", "--param", "serviceDescription=demo")
    assert result.exit_code == EXIT_SUCCEED, result.output
    assert result.stdout == "1\n"
    submitted = logged_in("create", "caching", "Quick2", "--json")
    assert json.loads(submitted.stdout)["jobId"] == 2


def test_status_exit_codes_from_the_real_server(start_server: StartServer, run_cli: RunCli) -> None:
    slow = start_server("--demo", "--db", "slow.db", "--demo-step-delay", "0.4")  # 2 s a job
    env = {"url": slow.url, "user": USER, "password": PASSWORD, "domain": DOMAIN}
    job_id = run_cli("create", "caching", "Statused", **env).stdout.strip()
    assert run_cli("status", job_id, **env).exit_code == EXIT_PENDING
    timed_out = run_cli("status", job_id, "--wait", "--timeout", "0.1", **env)
    assert timed_out.exit_code == EXIT_TIMEOUT
    assert "had not ended" in timed_out.output
    waited = run_cli("status", job_id, "--wait", "--interval", "0.05", **env)
    assert waited.exit_code == EXIT_SUCCEED, waited.output
    shown = run_cli("status", job_id, "--json", **env)
    assert shown.exit_code == EXIT_SUCCEED
    assert json.loads(shown.stdout)["status"] == "SUCCEED"
    assert run_cli("status", "4242", **env).exit_code == EXIT_ERROR


def test_waiting_ends_with_the_job_not_a_poll_interval_later(logged_in: RunCli) -> None:
    # The default --interval (1 s): a wait paced by it would end up to a second late.
    created = logged_in("create", "caching", "Prompt", "--wait", "--json")
    returned = dt.datetime.now(dt.UTC)
    assert created.exit_code == EXIT_SUCCEED, created.output
    submitted, final = (json.loads(line) for line in created.stdout.splitlines())
    ended = dt.datetime.strptime(final["endDate"], "%Y-%m-%dT%H:%M:%S.%f%z")
    assert returned - ended < dt.timedelta(seconds=0.3)
    started = time.monotonic()
    assert logged_in("status", str(submitted["jobId"]), "--wait").exit_code == EXIT_SUCCEED
    assert time.monotonic() - started < 0.3


def test_status_accepts_the_job_url(logged_in: RunCli, server: RunningServer) -> None:
    job_id = logged_in("create", "caching", "ByUrl", "--wait").stdout.splitlines()[0]
    url = f"{server.url}/paas/api/v1.1/activitylog/{DOMAIN}/job/{job_id}"
    result = logged_in("status", url, "--json")
    assert result.exit_code == EXIT_SUCCEED, result.output
    assert json.loads(result.stdout)["jobId"] == int(job_id)
    assert logged_in("status", "http://example.com/nothing").exit_code == EXIT_USAGE


def test_follow_prints_each_message_once_in_order(logged_in: RunCli) -> None:
    result = logged_in("create", "caching", "Streamed", "--follow", "--json", "--interval", "0.02")
    assert result.exit_code == EXIT_SUCCEED, result.output
    *message_lines, final_line = result.stdout.splitlines()[1:]
    job = json.loads(final_line)
    assert [json.loads(line) for line in message_lines] == job["messages"]
    assert job["status"] == "SUCCEED"


def test_scale_needs_a_size(logged_in: RunCli) -> None:
    assert logged_in("create", "caching", "Scaled", "--wait").exit_code == EXIT_SUCCEED
    assert logged_in("scale", "caching", "Scaled").exit_code == EXIT_USAGE
    scaled = logged_in("scale", "caching", "Scaled", "--size", "5", "--wait")
    assert scaled.exit_code == EXIT_SUCCEED, scaled.output
    refused = logged_in("scale", "caching", "Scaled", "--size", "500")
    assert refused.exit_code == EXIT_ERROR
    assert "expected whole gigabytes" in refused.output
    assert logged_in("create", "caching", "Bad", "--param", "novalue").exit_code == EXIT_USAGE


def test_activities_json_pages_and_filters(logged_in: RunCli) -> None:
    for name in ("Alpha", "Beta", "Gamma"):
        assert logged_in("create", "caching", name, "--wait").exit_code == EXIT_SUCCEED

    def search(*args: str) -> dict[str, Any]:
        result = logged_in("activities", "--json", *args)
        assert result.exit_code == 0, result.output
        document: dict[str, Any] = json.loads(result.stdout)
        return document

    first = search("--limit", "2", "--order-by", "serviceName:asc")
    assert first["totalCount"] == 3
    assert [j["serviceName"] for j in first["activityLogs"]] == ["Alpha", "Beta"]
    rest = search("--limit", "2", "--offset", "2", "--order-by", "serviceName:asc")
    assert [j["serviceName"] for j in rest["activityLogs"]] == ["Gamma"]
    everything = search("--all", "--order-by", "serviceName:asc")
    assert [j["serviceName"] for j in everything["activityLogs"]] == ["Alpha", "Beta", "Gamma"]
    filtered = search(
        "--service-name",
        "Beta",
        "--status",
        "succeed",
        "--status",
        "FAILED",
        "--operation-type",
        "CREATE_SERVICE",
        "--service-type",
        "caching",
        "--from",
        dt.datetime.now(dt.UTC).date().isoformat(),
    )
    assert [j["serviceName"] for j in filtered["activityLogs"]] == ["Beta"]
    assert search("--to", "2000-01-01")["totalCount"] == 0
    bad = logged_in("activities", "--order-by", "nonsense:asc")
    assert bad.exit_code == EXIT_ERROR
    assert "orderBy" in bad.output


def test_activities_table(logged_in: RunCli) -> None:
    logged_in("create", "caching", "Tabled", "--wait")
    result = logged_in("activities", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert "Tabled" in result.stdout
    assert "CREATE_SERVICE" in result.stdout
    assert "Showing 1-1 of 1." in result.stdout


def test_exit_codes_for_each_final_status() -> None:
    assert exit_code_for_status("SUCCEED") == EXIT_SUCCEED == 0
    assert exit_code_for_status("FAILED") == EXIT_FAILED
    assert exit_code_for_status("WARN") == EXIT_WARN
    assert exit_code_for_status("RUNNING") == exit_code_for_status("NEW") == EXIT_PENDING
    codes = [
        EXIT_SUCCEED,
        EXIT_ERROR,
        EXIT_USAGE,
        EXIT_FAILED,
        EXIT_WARN,
        EXIT_TIMEOUT,
        EXIT_PENDING,
    ]
    assert len(set(codes)) == len(codes)
    assert exit_code_for_job(_job("FAILED")) == EXIT_FAILED


def test_a_progress_bar_when_the_server_reports_percent_complete() -> None:
    console = Console(record=True, width=100, force_terminal=False)
    print_job(console, _job("RUNNING", percent_complete=40))
    text = console.export_text()
    assert "40%" in text
    assert "━" in text
    print_job(console, _job("RUNNING"))
    assert "Progress" not in console.export_text()


def _job(status: str, percent_complete: int | None = None) -> Job:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return Job(
        job_id=1,
        activity_log_id=1,
        status=status,
        service_name="MyCache",
        service_type="caching",
        operation_type="CREATE_SERVICE",
        start_date=start,
        percent_complete=percent_complete,
    )


def test_psm_habits_activities_and_operation_status(logged_in: RunCli) -> None:
    # What `psm <service> activities` and `psm <service> operation-status` users type.
    for name in ("Alpha", "Beta"):
        assert logged_in("create", "caching", name, "--wait").exit_code == EXIT_SUCCEED
    today = dt.datetime.now(dt.UTC).date().isoformat()

    found = logged_in(
        "activities", "-s", "Beta", "-f", today, "-t", today, "-a", "SUCCEED",
        "-o", "CREATE_SERVICE", "-l", "1", "-e", "0", "-d", "serviceName:asc", "-of", "json",
    )  # fmt: skip
    assert found.exit_code == 0, found.output
    page = json.loads(found.stdout)
    assert [j["serviceName"] for j in page["activityLogs"]] == ["Beta"]
    job_id = page["activityLogs"][0]["jobId"]
    short = logged_in("activities", "--limit-row-count", "1", "--offset", "1", "-of", "short")
    assert "Showing 2-2 of 2." in short.stdout

    shown = logged_in("operation-status", "-j", str(job_id), "-of", "json")
    assert shown.exit_code == EXIT_SUCCEED, shown.output
    assert json.loads(shown.stdout)["status"] == "SUCCEED"
    summary = logged_in("operation-status", "--job-id", str(job_id))
    assert "SUCCEED" in summary.stdout


def test_activities_shows_psms_default_of_ten_rows(logged_in: RunCli) -> None:
    for number in range(11):
        logged_in("create", "caching", f"Cache{number}")

    result = logged_in("activities")

    assert "Showing 1-10 of 11." in result.stdout
