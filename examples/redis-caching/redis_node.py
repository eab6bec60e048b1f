"""One local redis-server per service instance: its record on disk, its process, and just
enough of the Redis protocol to talk to it. Used by redis_caching.py."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import io
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

HOST = "127.0.0.1"
START_SECONDS = 15.0
STOP_SECONDS = 15.0


class Refused(Exception):
    """The operation cannot be carried out; the message says why, for the activity log."""


@dataclasses.dataclass
class Node:
    """What is on record for one instance, in <state dir>/<domain>/<service>/node.json."""

    directory: Path
    port: int
    maxmemory_mb: int
    pid: int | None = None

    @property
    def record(self) -> Path:
        return self.directory / "node.json"

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log(self) -> Path:
        return self.directory / "redis.log"

    def save(self) -> None:
        fields = {"port": self.port, "maxmemoryMb": self.maxmemory_mb, "pid": self.pid}
        temporary = self.record.with_suffix(".tmp")
        temporary.write_text(json.dumps(fields) + "\n")
        temporary.replace(self.record)  # never a half-written record

    @classmethod
    def load(cls, directory: Path) -> Node | None:
        try:
            fields = json.loads((directory / "node.json").read_text())
        except FileNotFoundError:
            return None
        return cls(directory, fields["port"], fields["maxmemoryMb"], fields.get("pid"))


@contextlib.contextmanager
def port_lock(state_dir: Path) -> Iterator[None]:
    """Serialise port allocation between operations running at once."""
    state_dir.mkdir(parents=True, exist_ok=True)
    with (state_dir / ".ports.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def allocate_port(state_dir: Path, first: int, last: int) -> int:
    """A port in [first, last] that no instance has on record and nothing listens on now.

    Call it under port_lock, and save the node before releasing the lock. Taken at random, so
    that hosts running several state directories (tests, say) seldom pick the same one.
    """
    taken = {json.loads(p.read_text())["port"] for p in state_dir.glob("*/*/node.json")}
    candidates = [port for port in range(first, last + 1) if port not in taken]
    secrets.SystemRandom().shuffle(candidates)
    for port in candidates:
        if _bindable(port):
            return port
    raise Refused(f"No free port left in {first}-{last} for another cache node.")


def _bindable(port: int) -> bool:
    with socket.socket() as probe:
        # As redis-server binds: a port whose old connections linger in TIME_WAIT is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


def start(node: Node, server: str) -> str:
    """Start redis-server for the node and wait until it answers; return its version."""
    node.data.mkdir(parents=True, exist_ok=True)
    arguments = [
        server, "--port", str(node.port), "--bind", HOST, "--protected-mode", "yes",
        "--daemonize", "no", "--dir", str(node.data), "--dbfilename", "dump.rdb",
        "--save", "", "--appendonly", "no", "--logfile", str(node.log),
        "--maxmemory", f"{node.maxmemory_mb}mb", "--maxmemory-policy", "allkeys-lru",
    ]  # fmt: skip
    # A session of its own: the server must outlive this script, which activitylog stops
    # along with everything else left in its process group.
    process = subprocess.Popen(
        arguments,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    node.pid = process.pid
    node.save()
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise Refused(f"redis-server exited at start-up: {_log_tail(node)}")
        with contextlib.suppress(OSError, RedisError):
            if call(node.port, "PING") == "PONG":
                return str(info(node.port).get("redis_version", "?"))
        time.sleep(0.05)
    process.kill()
    raise Refused(f"redis-server did not answer on {HOST}:{node.port} in {START_SECONDS:g} s.")


def stop(node: Node) -> None:
    """Save the data set and shut redis-server down; force it if it will not go."""
    with contextlib.suppress(OSError, RedisError):
        call(node.port, "SHUTDOWN", "SAVE")
    if _wait_gone(node.pid, STOP_SECONDS):
        return
    for signum in (signal.SIGTERM, signal.SIGKILL):
        if node.pid is not None and is_redis(node.pid):
            os.kill(node.pid, signum)
        if _wait_gone(node.pid, STOP_SECONDS / 3):
            return
    raise Refused(f"redis-server (pid {node.pid}) did not stop.")


def is_running(node: Node) -> bool:
    return node.pid is not None and is_redis(node.pid)


def is_redis(pid: int) -> bool:
    """Whether pid is a live redis-server: a pid on record may since belong to another program."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    # A zombie has exited; an init that does not reap can keep it around for ever.
    return stat.rpartition(")")[2].split()[0] != "Z" and b"redis-server" in command


def _wait_gone(pid: int | None, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while pid is not None and is_redis(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _log_tail(node: Node) -> str:
    with contextlib.suppress(OSError):
        lines = [line for line in node.log.read_text().splitlines() if line.strip()]
        return " | ".join(lines[-3:]) or "(empty log)"
    return "(no log)"


# -- the Redis protocol (RESP), as much as this example needs ------------------------------


class RedisError(Exception):
    """Redis answered with an error reply."""


Reply = str | int | None | list["Reply"]


def call(port: int, *arguments: str) -> Reply:
    """Send one command, return its reply (None when the server closes the connection)."""
    request = f"*{len(arguments)}\r\n".encode()
    for argument in arguments:
        encoded = argument.encode()
        request += b"$%d\r\n%s\r\n" % (len(encoded), encoded)
    with socket.create_connection((HOST, port), timeout=5) as connection:
        connection.sendall(request)
        with connection.makefile("rb") as replies:
            return _read_reply(replies)


def _read_reply(replies: io.BufferedReader) -> Reply:
    line = replies.readline()
    if not line:
        return None  # SHUTDOWN succeeded: no reply, the connection just closes
    kind, body = line[:1], line[1:].rstrip(b"\r\n").decode()
    if kind == b"-":
        raise RedisError(body)
    if kind == b":":
        return int(body)
    if kind == b"$":
        length = int(body)
        return None if length < 0 else replies.read(length + 2)[:-2].decode()
    if kind == b"*":
        return [_read_reply(replies) for _ in range(int(body))]
    return body


def info(port: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in str(call(port, "INFO", "server")).splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields[key] = value
    return fields


def set_maxmemory(port: int, megabytes: int) -> None:
    call(port, "CONFIG", "SET", "maxmemory", f"{megabytes}mb")
