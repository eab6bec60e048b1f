"""`serve` and `worker` as an operator starts them: a taken port, a database out of reach, the
password in a database URL, and the log they write (one format, no secrets)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import StartServer, free_port, stop_process
from tests.postgres_server import PG_ADMIN, database_url, with_user

pytestmark = pytest.mark.e2e

DOMAIN = "ExampleIdentityDomain"
JOBS = f"/paas/api/v1.1/activitylog/{DOMAIN}"
INSTANCES = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/caching/instances"
DB_PASSWORD = "db-s3cr3t-Pw"
SERVE = (sys.executable, "-m", "activitylog", "serve")


def run_cli(
    *arguments: str, cwd: Path, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "activitylog", *arguments],
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def log_records(log: str) -> list[dict[str, Any]]:
    """Every line of a log written off a terminal: each one must be a JSON object."""
    return [json.loads(line) for line in log.splitlines() if line.strip()]


def test_a_second_serve_on_a_taken_port_refuses_to_start(
    start_server: StartServer, tmp_path: Path
) -> None:
    first = start_server("--db", str(tmp_path / "first.db"))

    second = run_cli("serve", "--port", str(first.port), "--db", "second.db", cwd=tmp_path)

    assert second.returncode == 1
    assert f"port {first.port} is already in use" in second.stderr
    assert "--reuse-port" in second.stderr
    assert "activitylog serving" not in second.stderr
    assert "Traceback" not in second.stderr
    assert first.process.poll() is None
    assert httpx.get(f"{first.url}/health").status_code == 200


def test_reuse_port_shares_the_port_when_asked_for(
    start_server: StartServer, tmp_path: Path
) -> None:
    first = start_server("--db", str(tmp_path / "first.db"))
    log_path = tmp_path / "second.log"
    with log_path.open("wb") as log_file:
        second = subprocess.Popen(
            [*SERVE, "--port", str(first.port), "--db", "second.db", "--reuse-port"],
            cwd=tmp_path,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "worker started" not in log_path.read_text() and time.monotonic() < deadline:
            assert second.poll() is None, log_path.read_text()
            time.sleep(0.05)
        time.sleep(0.5)
        assert second.poll() is None, log_path.read_text()
    finally:
        stop_process(second)


@pytest.mark.parametrize("command", ["serve", "worker"])
def test_an_unreachable_database_is_one_line_before_listening(command: str, tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://activitylog:{DB_PASSWORD}@127.0.0.1:{port}/activitylog"

    result = run_cli(command, "--db", url, "--port", str(free_port()), cwd=tmp_path)

    assert result.returncode == 1
    error = result.stderr.strip().splitlines()[-1]
    assert error == (
        f"Error: cannot open PostgreSQL at 127.0.0.1:{port} (database activitylog, user "
        "activitylog): connection refused (is PostgreSQL running and listening there?)"
    )
    assert "Traceback" not in result.stderr
    assert "Listening" not in result.stderr
    assert "activitylog serving" not in result.stderr
    assert DB_PASSWORD not in result.stdout + result.stderr


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("url", "cause"),
    [
        (
            database_url("no_such_database_here"),
            'database "no_such_database_here" does not exist',
        ),
        (
            with_user(PG_ADMIN, "no_such_role"),
            'authentication failed: role "no_such_role" does not exist',
        ),
    ],
)
def test_serve_says_why_postgresql_refused_it(url: str, cause: str, tmp_path: Path) -> None:
    result = run_cli("serve", "--db", url, "--port", str(free_port()), cwd=tmp_path)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].endswith(cause)
    assert "Traceback" not in result.stderr


@pytest.mark.postgres
def test_the_database_password_is_never_printed(
    start_server: StartServer, tmp_path: Path, postgres_url: str
) -> None:
    # Trust authentication takes any password: the URL carries one, as docs/scale-out.md's do.
    user = urllib.parse.urlsplit(postgres_url).username or "postgres"
    with_password = with_user(postgres_url, user, DB_PASSWORD)
    server = start_server("--db", with_password, "--log-format", "console")

    migrated = run_cli("migrate", "--db", with_password, cwd=tmp_path)

    log = server.log()
    assert "activitylog serving" in log
    assert f"{user}:***@" in log
    assert migrated.returncode == 0, migrated.stderr
    assert f"{user}:***@" in migrated.stdout
    assert DB_PASSWORD not in log + migrated.stdout + migrated.stderr


def test_the_log_is_json_lines_off_a_terminal_without_granians_noise(
    start_server: StartServer, tmp_path: Path
) -> None:
    server = start_server("--db", str(tmp_path / "a.db"), "--demo")
    stop_process(server.process)

    records = log_records(server.log())
    assert records[0]["event"] == "activitylog serving"
    assert {"worker started", "worker stopped"} <= {record["event"] for record in records}
    assert all({"event", "level", "timestamp"} <= record.keys() for record in records)
    assert "experimental" not in server.log()


def test_the_access_log_names_each_request_and_no_secret(
    start_server: StartServer, tmp_path: Path
) -> None:
    db = str(tmp_path / "a.db")
    server = start_server("--db", db, "--demo", "--access-log", "--log-level", "debug")
    password, wrong_password = "Adm1n-Pa55word-xyz", "Wr0ng-Pa55word-abc"
    added = run_cli(
        "user", "add", "--db", db, "--role", "admin", "--password-stdin", DOMAIN, "ada",
        cwd=tmp_path, stdin=password + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    with httpx.Client(base_url=server.url, auth=("ada", password)) as client:
        created = client.post(f"{JOBS}/tokens", json={"name": "ci", "role": "operator"})
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        submitted = client.post(INSTANCES, json={"serviceName": "c1", "size": 1})
        assert submitted.status_code == 202, submitted.text
        for _ in range(3):  # the second and third come through the job-status fast path
            answered = client.get(submitted.headers["location"])
        assert client.get(f"{JOBS}/filter", auth=("ada", wrong_password)).status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}{JOBS}/filter", headers=bearer).status_code == 200
    stop_process(server.process)

    log = server.log()
    for secret in (password, wrong_password, token, token.partition("_")[2][:12]):
        assert secret not in log
    records = log_records(log)
    requests = [r for r in records if r["event"] == "request" and r["path"] != "/health"]
    assert len(requests) == 7
    fast = requests[4]
    assert fast["path"] == submitted.headers["location"].partition(server.url)[2]
    assert (fast["status"], fast["domain"], fast["user"]) == (200, DOMAIN, "ada")
    assert fast["ecid"] == answered.headers["x-oracle-dms-ecid"]
    refused = requests[5]
    assert (refused["status"], refused["user"]) == (401, None)
    assert requests[6]["user"] == "ada"  # through the token


def test_a_job_logs_its_worker_and_job_ids(start_server: StartServer, tmp_path: Path) -> None:
    server = start_server("--db", str(tmp_path / "a.db"), "--demo", "--demo-step-delay", "0")
    with httpx.Client(base_url=server.url, auth=("joe@example.com", "joePassword")) as client:
        submitted = client.post(INSTANCES, json={"serviceName": "c1", "size": 1})
        job_id = int(submitted.json()["details"]["jobId"])
        deadline = time.monotonic() + 20
        while client.get(submitted.headers["location"]).json()["status"] != "SUCCEED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    stop_process(server.process)

    records = log_records(server.log())
    (ended,) = [record for record in records if record["event"] == "job ended"]
    assert ended["job_id"] == job_id
    assert ended["worker_id"]


COMMAND_CONFIG = """
[service_types.scripted]
handler = "command"
command = ["{python}", "-c", "{script}"]

[service_types.scripted.operations.CREATE_SERVICE]
"""


def test_a_command_exiting_3_logs_one_line_and_no_traceback(
    start_server: StartServer, tmp_path: Path
) -> None:
    config = tmp_path / "activitylog.toml"
    script = "import sys; print('step one'); print('disk full', file=sys.stderr); sys.exit(3)"
    config.write_text(COMMAND_CONFIG.format(python=sys.executable, script=script))
    server = start_server("--db", str(tmp_path / "a.db"), "--demo", "--config", str(config))
    instances = INSTANCES.replace("caching", "scripted")
    with httpx.Client(base_url=server.url, auth=("joe@example.com", "joePassword")) as client:
        submitted = client.post(instances, json={"serviceName": "s1"})
        assert submitted.status_code == 202, submitted.text
        job_id = int(submitted.json()["details"]["jobId"])
        deadline = time.monotonic() + 20
        while client.get(submitted.headers["location"]).json()["status"] != "FAILED":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    stop_process(server.process)

    log = server.log()
    assert "Traceback" not in log
    (failed,) = [record for record in log_records(log) if record["event"] == "job failed"]
    assert failed["job_id"] == job_id
    assert failed["exit_status"] == 3
    assert failed["last_output"] == "disk full"
    assert failed["level"] == "warning"
