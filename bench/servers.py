"""The processes a benchmark talks to, on loopback only: activitylog itself and an nginx baseline.

Each starts as a context manager that stops its process on the way out, error and Ctrl-C
included, and keeps the process's output in a log file beside the benchmark's data.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"
BENCH_DIR = Path(__file__).resolve().parent
# Never through a proxy, whatever the environment says: the traffic stays on loopback.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))

_NGINX_CONFIG = """\
daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {work}/nginx-temp/client_body;
    proxy_temp_path {work}/nginx-temp/proxy;
    fastcgi_temp_path {work}/nginx-temp/fastcgi;
    uwsgi_temp_path {work}/nginx-temp/uwsgi;
    scgi_temp_path {work}/nginx-temp/scgi;
    types {{ }}
    default_type application/json;
    server {{
        listen {host}:{port};
        root {root};
{locations}    }}
}}
"""
# Every path below {prefix} that ends in a number (a job id) answers with the one file {file}.
_ANY_ID_LOCATION = """        location ~ ^{prefix}[0-9]+$ {{
            try_files {file} =404;
        }}
"""


class ServerFailed(RuntimeError):
    """A server process exited early, or did not answer in time."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def http_get(url: str, headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """GET ``url`` directly (no proxy); the status and body, also for 4xx and 5xx answers."""
    request = urllib.request.Request(url, headers=dict(headers or {}))  # noqa: S310 - loopback
    try:
        with _OPENER.open(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextlib.contextmanager
def activitylog_server(db: Path, port: int, log: Path) -> Iterator[str]:
    """`activitylog serve` on ``db`` without its worker; yields the base URL once healthy."""
    with activitylog_process("serve", ["--db", str(db), "--no-worker"], port, log) as base:
        yield base


@contextlib.contextmanager
def activitylog_process(
    command_name: str,
    arguments: Sequence[str],
    port: int,
    log: Path,
    env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """`activitylog serve` or `activitylog worker` (whose ``--port`` serves /health) with
    ``arguments`` and ``env`` added to ours, and no pruning unless ``arguments`` ask for it;
    yields its base URL once /health answers."""
    command = [sys.executable, "-m", "activitylog", command_name, *arguments]
    command += ["--host", LOOPBACK, "--port", str(port), "--log-level", "warning"]
    if "--prune-interval" not in arguments:
        # Seeded histories reach back months, past the default 30-day retention: a pruner
        # would delete most of a 1M-job file while it is being measured.
        command += ["--prune-interval", "0"]
    base = f"http://{LOOPBACK}:{port}"
    with background_process(command, log, env) as process:
        _wait_until_answering(f"{base}/health", process, log)
        yield base


@contextlib.contextmanager
def bare_asgi_server(body_file: Path, port: int, log: Path) -> Iterator[str]:
    """bench/bare_asgi.py serving ``body_file`` at every path; yields the base URL once up."""
    script = Path(__file__).resolve().parent / "bare_asgi.py"
    command = [sys.executable, str(script), "--port", str(port), "--body", str(body_file)]
    base = f"http://{LOOPBACK}:{port}"
    with background_process(command, log) as process:
        _wait_until_answering(f"{base}/", process, log)
        yield base


@contextlib.contextmanager
def nginx_server(
    root: Path, work: Path, port: int, ready_path: str, any_id: tuple[str, str] | None = None
) -> Iterator[str]:
    """nginx serving the files under ``root``; yields the base URL once ``ready_path`` answers.

    ``any_id`` (a path prefix, a file's path under ``root``) answers every path of that prefix
    followed by a number with that one file, as if each job had one.
    """
    (work / "nginx-temp").mkdir(exist_ok=True)
    config = work / "nginx.conf"
    locations = _ANY_ID_LOCATION.format(prefix=any_id[0], file=any_id[1]) if any_id else ""
    config.write_text(
        _NGINX_CONFIG.format(work=work, root=root, host=LOOPBACK, port=port, locations=locations)
    )
    command = ["nginx", "-p", str(work), "-c", str(config), "-e", str(work / "nginx-error.log")]
    base = f"http://{LOOPBACK}:{port}"
    with background_process(command, work / "nginx.log") as process:
        _wait_until_answering(f"{base}{ready_path}", process, work / "nginx-error.log")
        yield base


def bench_environment() -> dict[str, str]:
    """PYTHONPATH with bench/ first: the servers, workers and peers started by the benchmarks
    import their handlers and tasks from it (noop_handlers, notify_handlers, peers)."""
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": f"{BENCH_DIR}{os.pathsep}{path}" if path else str(BENCH_DIR)}


@contextlib.contextmanager
def background_process(
    command: list[str], log: Path, env: Mapping[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, **env} if env is not None else None,
        )
    try:
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait_until_answering(
    url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 30.0
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"{process.args!r} exited early:\n{_tail(log)}")
        with contextlib.suppress(OSError):
            if http_get(url)[0] == 200:
                return
        time.sleep(0.05)
    raise ServerFailed(f"{url} did not answer 200 within {seconds:g} s:\n{_tail(log)}")


def _tail(log: Path, lines: int = 20) -> str:
    if not log.exists():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
