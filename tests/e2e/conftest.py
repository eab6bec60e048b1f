"""Real server processes on loopback, started through the CLI as a user would."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.postgres_server import PG_ADMIN, database_url, require_postgres_marker

pytestmark = pytest.mark.e2e


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RunningServer:
    def __init__(
        self,
        process: subprocess.Popen[bytes],
        port: int,
        log_path: Path,
        *,
        scheme: str = "http",
        verify: ssl.SSLContext | bool = True,
    ) -> None:
        self.process = process
        self.port = port
        self.url = f"{scheme}://127.0.0.1:{port}"
        self.log_path = log_path
        self.verify = verify

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def wait_until_healthy(server: RunningServer, deadline_seconds: float = 30.0) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited early:\n{server.log()}")
        try:
            health = httpx.get(f"{server.url}/health", timeout=1.0, verify=server.verify)
            if health.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"server not healthy in time:\n{server.log()}")


StartServer = Callable[..., RunningServer]
StartWorker = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start `activitylog serve` with extra CLI arguments; every server is stopped afterwards."""
    started: list[RunningServer] = []

    def start(
        *arguments: str,
        env: dict[str, str] | None = None,
        scheme: str = "http",
        verify: ssl.SSLContext | bool = True,
    ) -> RunningServer:
        """``scheme`` and ``verify``: how to reach it (https with a test CA's context)."""
        port = free_port()
        log_path = tmp_path / f"server-{port}.log"
        command = [sys.executable, "-m", "activitylog", "serve", "--port", str(port), *arguments]
        process = _launch(command, tmp_path, log_path, env)
        server = RunningServer(process, port, log_path, scheme=scheme, verify=verify)
        started.append(server)
        wait_until_healthy(server)
        return server

    yield start
    for server in started:
        stop_process(server.process)


@pytest.fixture
def start_worker(tmp_path: Path) -> Iterator[StartWorker]:
    """Start `activitylog worker` with extra CLI arguments; every worker is stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*arguments: str) -> subprocess.Popen[bytes]:
        log_path = tmp_path / f"worker-{len(started)}.log"
        command = [sys.executable, "-m", "activitylog", "worker", *arguments]
        process = _launch(command, tmp_path, log_path, None)
        started.append(process)
        return process

    yield start
    for process in started:
        stop_process(process)


@pytest.fixture
def postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test, dropped afterwards."""
    require_postgres_marker(request)
    name = f"activitylog_e2e_{secrets.token_hex(4)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(PG_ADMIN)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield database_url(name)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# Tests stop their processes with jobs still running: a short grace keeps that quick.
_TEST_ENV = {"ACTIVITYLOG_SHUTDOWN_GRACE": "1"}


def _launch(
    command: list[str], cwd: Path, log_path: Path, env: dict[str, str] | None
) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log_file:
        return subprocess.Popen(
            command,
            cwd=cwd,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**_TEST_ENV, **os.environ, **(env or {})},
        )


def stop_process(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
