"""examples/redis-caching for real: a cache created through the API is a redis-server that
answers, scales, stops, starts, restarts and goes away, with the activity log telling so."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import StartServer

REDIS_SERVER = Path("/usr/bin/redis-server")
EXAMPLE = Path(__file__).parents[2] / "examples" / "redis-caching"
DOMAIN = "ExampleIdentityDomain"
AUTH = ("joe@example.com", "joePassword")
INSTANCES = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/caching/instances"
GIGABYTE = 1024 * 1024 * 1024

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not REDIS_SERVER.exists(), reason="needs Debian's redis-server"),
]


@pytest.fixture
def redis_example(tmp_path: Path) -> Iterator[Path]:
    """A copy of the example, so that its state directory lands in tmp_path, not in the
    repository; every redis-server it records is killed afterwards, even after a failure.

    Request it before start_server, so that it is torn down after the server has stopped.
    """
    copy = tmp_path / "redis-caching"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("state", "__pycache__"))
    yield copy
    for record in (copy / "state").glob("*/*/node.json"):
        pid = json.loads(record.read_text()).get("pid")
        if pid and is_redis(pid):
            os.kill(pid, signal.SIGKILL)


def is_redis(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z" and b"redis-server" in command


def redis(port: int, *arguments: str) -> Any:
    """One command over a raw socket, in the Redis protocol; its decoded reply."""
    request = f"*{len(arguments)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in arguments)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
        connection.sendall(request.encode())
        with connection.makefile("rb") as replies:
            return read_reply(replies)


def read_reply(replies: Any) -> Any:
    line = replies.readline()
    kind, body = line[:1], line[1:-2].decode()
    if kind == b"$":
        return None if body == "-1" else replies.read(int(body) + 2)[:-2].decode()
    if kind == b"*":
        return [read_reply(replies) for _ in range(int(body))]
    assert kind in {b"+", b":"}, line
    return body


def run_job(client: httpx.Client, method: str, url: str, body: dict[str, Any]) -> list[str]:
    """Submit an operation, wait for its job to end SUCCEED; return the job's messages."""
    submitted = client.request(method, url, json=body)
    assert submitted.status_code == 202, submitted.text
    location = submitted.headers["location"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = client.get(location).json()
        if job["status"] not in {"NEW", "RUNNING"}:
            messages = [m["message"] for m in job["messages"]]
            assert job["status"] == "SUCCEED", messages
            return messages
        time.sleep(0.05)
    raise AssertionError(f"job {location} did not end")


def refused(port: int) -> bool:
    try:
        redis(port, "PING")
    except ConnectionRefusedError:
        return True
    return False


def operation_lines(verb: str, name: str) -> tuple[str, str]:
    where = f"service [{name}] in identity domain [{DOMAIN}]."
    return f"Started operation to {verb} {where}", f"Completed operation to {verb} {where}"


def test_a_cache_is_a_real_redis(redis_example: Path, start_server: StartServer) -> None:
    config = redis_example / "activitylog.toml"
    server = start_server("--config", str(config), "--demo", "--db", "redis.db")
    name = "RealCache"
    instance = f"{INSTANCES}/{name}"
    with httpx.Client(base_url=server.url, auth=AUTH, timeout=10) as client:
        created = run_job(
            client, "POST", INSTANCES, {"serviceParameters": {"serviceName": name, "size": "1"}}
        )
        started, completed = operation_lines("create", name)
        assert created[:3] == ["Activity Submitted", "Activity Started", started]
        assert created[-2:] == [completed, "Activity Ended"]
        acquired = next(m for m in created if m.startswith("Acquired resources for instance(1G)"))
        port = int(re.findall(r"port (\d+)", acquired)[0])
        assert 17000 <= port <= 17999
        assert redis(port, "PING") == "PONG"
        assert redis(port, "CONFIG", "GET", "maxmemory") == ["maxmemory", str(GIGABYTE)]
        assert redis(port, "SET", "greeting", "hello") == "OK"

        scaled = run_job(client, "POST", f"{instance}/scale", {"serviceParameters": {"size": "2"}})
        assert "Resizing realcache-cach-1 to 2G: maxmemory 2048mb..." in scaled
        assert redis(port, "CONFIG", "GET", "maxmemory") == ["maxmemory", str(2 * GIGABYTE)]
        bad_scale = client.post(f"{instance}/scale", json={"serviceParameters": {"size": "x"}})
        assert bad_scale.status_code == 400

        stopped = run_job(client, "POST", f"{instance}/hosts/stop", {"allServiceHosts": True})
        assert f"Stopping redis-server on 127.0.0.1:{port} (saving its data)..." in stopped
        assert refused(port)

        run_job(client, "POST", f"{instance}/hosts/start", {"allServiceHosts": True})
        assert redis(port, "GET", "greeting") == "hello"  # saved on stop, loaded on start
        assert redis(port, "CONFIG", "GET", "maxmemory") == ["maxmemory", str(2 * GIGABYTE)]
        before = redis(port, "INFO", "server")

        restarted = run_job(client, "POST", f"{instance}/hosts/restart", {})
        assert restarted[2:4] == [operation_lines("restart", name)[0], stopped[3]]
        assert process_id(redis(port, "INFO", "server")) != process_id(before)

        deleted = run_job(client, "DELETE", instance, {})
        assert f"Released resources of realcache-cach-1: port {port}, data removed." in deleted
        assert refused(port)
        assert not (redis_example / "state" / DOMAIN / name).exists()


def process_id(info: str) -> str:
    found = re.search(r"process_id:(\d+)", info)
    assert found is not None, info
    return found.group(1)
