"""Chaos: real processes killed with SIGKILL, a database stopped under load. What they share:
processes on short leases, clients that retry with Idempotency-Keys until answered, and a
check that every job's log accounts for each attempt, alone and in order."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    RunningServer,
    free_port,
    postgres_url,
    stop_process,
    wait_until_healthy,
)

__all__ = ["postgres_url"]  # the e2e fixture: a fresh PostgreSQL database per test

REPO = Path(__file__).resolve().parents[2]
DOMAIN = "ExampleIdentityDomain"
AUTH = ("joe@example.com", "joePassword")
INSTANCES = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/chaos/instances"
ACTIVITY_LOG = f"/paas/api/v1.1/activitylog/{DOMAIN}"
CONFIG = """
[service_types.chaos]
handler = "python:tests.chaos.handlers:steps"
attempts = 2

[service_types.chaos.operations.CREATE_SERVICE]
"""
STEP = re.compile(r"Attempt (\d+): step (\d+) \(process (\d+)\)\.")
RETRYING = re.compile(r"Worker lost \(lease expired\); retrying: attempt (\d+) of 2\.")
GIVING_UP = re.compile(r"Worker lost \(lease expired\) on attempt (\d+) of 2; giving up\.")
FAILED = re.compile(r"Operation CREATE_SERVICE on service \[\w+\] failed: .*")


@dataclasses.dataclass(frozen=True)
class Timing:
    """Short leases, so that rescues happen within the test."""

    lease: float = 1.0
    heartbeat: float = 0.25
    rescue_interval: float = 0.25

    def arguments(self) -> list[str]:
        return [
            "--lease-seconds",
            str(self.lease),
            "--heartbeat-seconds",
            str(self.heartbeat),
            "--rescue-interval",
            str(self.rescue_interval),
            "--shutdown-grace",
            "1",
        ]


class Processes:
    """Starts `activitylog serve` and `worker` on one database; kills what is left at the end."""

    def __init__(self, tmp_path: Path, db: str, timing: Timing) -> None:
        self.tmp_path = tmp_path
        self.db = db
        self.timing = timing
        self.config = tmp_path / "chaos.toml"
        self.config.write_text(CONFIG)
        self._started: list[subprocess.Popen[bytes]] = []

    def serve(self, *extra: str) -> RunningServer:
        port = free_port()
        process = self._launch(f"server-{port}", "serve", "--port", str(port), "--demo", *extra)
        server = RunningServer(process, port, self.tmp_path / f"server-{port}.log")
        wait_until_healthy(server)
        return server

    def worker(self, *extra: str) -> subprocess.Popen[bytes]:
        return self._launch(f"worker-{len(self._started)}", "worker", *extra)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.kill()  # SIGKILL: no shutdown, no last words
        process.wait()

    def close(self) -> None:
        for process in self._started:
            stop_process(process)

    def _launch(self, name: str, command: str, *arguments: str) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "activitylog", command, "--db", self.db]
        argv += ["--config", str(self.config), *self.timing.arguments(), *arguments]
        with (self.tmp_path / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [*argv, "--log-level", "warning"],
                cwd=self.tmp_path,
                stdout=log,
                stderr=subprocess.STDOUT,
                # The handler lives in tests/chaos: importable from the repository's root.
                env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
            )
        self._started.append(process)
        return process


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def chaos_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test twice: on a SQLite file, and on a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "chaos.db")
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def processes_for(tmp_path: Path) -> Iterator[Callable[..., Processes]]:
    opened: list[Processes] = []

    def open_processes(db: str, timing: Timing | None = None) -> Processes:
        processes = Processes(tmp_path, db, timing or Timing())
        opened.append(processes)
        return processes

    yield open_processes
    for processes in opened:
        processes.close()


class Submitter:
    """Creates instances, each with its name as Idempotency-Key, retrying until a 202: a
    request that got no answer may have committed, and the key makes its retry find that job.
    """

    def __init__(self, url: Callable[[], str]) -> None:
        self.url = url
        self.acknowledged: dict[str, int] = {}
        self.unavailable: list[httpx.Response] = []
        """The 503 answers seen, to check their form."""

    async def create(self, name: str, **parameters: str) -> int:
        body = {"serviceParameters": {"serviceName": name, **parameters}}
        while True:
            try:
                async with httpx.AsyncClient(base_url=self.url(), auth=AUTH, timeout=5) as client:
                    answer = await client.post(
                        INSTANCES, json=body, headers={"Idempotency-Key": name}
                    )
            except httpx.TransportError:
                await asyncio.sleep(0.05)  # the server is down: it comes back on another port
                continue
            if answer.status_code == 202:
                job_id = int(answer.json()["details"]["jobId"])
                self.acknowledged[name] = job_id
                return job_id
            assert answer.status_code == 503, answer.text
            self.unavailable.append(answer)
            await asyncio.sleep(0.1)


def all_jobs(url: str, deadline_seconds: float = 60.0) -> list[dict[str, Any]]:
    """Every job, once none is NEW or RUNNING any more (or the deadline passed)."""
    deadline = time.monotonic() + deadline_seconds
    with httpx.Client(base_url=url, auth=AUTH, timeout=10) as client:
        while True:
            pending = client.get(
                f"{ACTIVITY_LOG}/filter", params={"status": ["NEW", "RUNNING"], "limit": 0}
            ).json()["totalCount"]
            if pending == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        answer = client.get(
            f"{ACTIVITY_LOG}/filter", params={"limit": 10_000, "orderBy": "jobId:asc"}
        )
    jobs: list[dict[str, Any]] = answer.json()["activityLogs"]
    return jobs


def texts(job: dict[str, Any]) -> list[str]:
    return [message["message"] for message in job["messages"]]


def assert_attempts_ran_alone_in_order(job: dict[str, Any]) -> int:
    """Ended once; one Activity Started per attempt; every step line inside its own attempt,
    numbered in order; each rescue message where it belongs. Returns the attempts."""
    lines = texts(job)
    assert job["status"] in ("SUCCEED", "FAILED"), job
    assert lines[0] == "Activity Submitted", lines
    assert lines[-1] == "Activity Ended", lines
    assert lines.count("Activity Ended") == 1, lines
    attempt, step = 0, 0
    for index, line in enumerate(lines[1:-1], start=1):
        following = lines[index + 1]
        if line == "Activity Started":
            attempt, step = attempt + 1, 0
        elif match := STEP.fullmatch(line):
            assert (int(match.group(1)), int(match.group(2))) == (attempt, step + 1), lines
            step += 1
        elif match := RETRYING.fullmatch(line):
            assert int(match.group(1)) == attempt + 1, lines
            assert following == "Activity Started", lines
        elif match := GIVING_UP.fullmatch(line):
            assert int(match.group(1)) == attempt, lines
            assert following == "Activity Ended", lines
        else:
            assert FAILED.fullmatch(line), lines
            assert following == "Activity Ended", lines
    assert 1 <= attempt <= 2, lines
    if job["status"] == "SUCCEED":
        assert lines[-2] == f"Attempt {attempt}: step 3 (process {_process(lines[-2])}).", lines
    dates = [message["activityDate"] for message in job["messages"]]
    assert dates == sorted(dates)
    return attempt


def _process(line: str) -> str:
    match = STEP.fullmatch(line)
    return match.group(3) if match else "?"


def assert_every_acknowledged_job_ran_once(
    jobs: list[dict[str, Any]], acknowledged: dict[str, int]
) -> None:
    by_id = {job["jobId"]: job for job in jobs}
    # Every name was submitted until acknowledged, and its key made each retry find its job:
    # one job per name, none lost, none doubled.
    assert sorted(job["serviceName"] for job in jobs) == sorted(acknowledged)
    for name, job_id in acknowledged.items():
        assert by_id[job_id]["serviceName"] == name
        assert_attempts_ran_alone_in_order(by_id[job_id])
