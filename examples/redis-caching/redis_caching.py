#!/usr/bin/env python3
"""The `caching` service type's operations, carried out on local redis-server processes.

activitylog's command handler runs this script for every operation: the job arrives as JSON
on stdin and in ACTIVITYLOG_* variables; every line printed becomes an activity message. The
REDIS_CACHING_* variables come from activitylog.toml. See README.md.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from redis_node import (
    HOST,
    Node,
    Refused,
    allocate_port,
    is_running,
    port_lock,
    set_maxmemory,
    start,
    stop,
)

# Instance and domain names become directory names: allow nothing that could escape.
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
MAX_SIZE = 64


class Operation:
    """One job: who asked for what, where its node lives, and how to report."""

    def __init__(self, job: dict[str, Any], env: dict[str, str]) -> None:
        self.name = _safe(job["serviceName"], "service name")
        self.domain = _safe(job["identityDomain"], "identity domain")
        self.parameters: dict[str, Any] = job.get("parameters") or {}
        # Absolute: redis-server changes into its data directory before opening its log.
        self.state_dir = Path(env.get("REDIS_CACHING_STATE_DIR", "state")).resolve()
        self.server = env.get("REDIS_CACHING_SERVER", "/usr/bin/redis-server")
        first, _, last = env.get("REDIS_CACHING_PORTS", "17000-17999").partition("-")
        self.ports = (int(first), int(last))
        self.mb_per_size = int(env.get("REDIS_CACHING_MB_PER_SIZE", "1024"))
        self.directory = self.state_dir / self.domain / self.name
        self.node_name = f"{self.name.lower()[:10]}-cach-1"

    def say(self, message: str) -> None:
        print(message, flush=True)

    def progress(self, percent: int) -> None:
        print(f"::progress {percent}", flush=True)

    def begin(self, verb: str) -> None:
        self.say(f"Started operation to {verb} {self._target}")

    def end(self, verb: str) -> None:
        self.say(f"Completed operation to {verb} {self._target}")

    @property
    def _target(self) -> str:
        return f"service [{self.name}] in identity domain [{self.domain}]."

    def node(self) -> Node:
        node = Node.load(self.directory)
        if node is None:
            raise Refused(f"No cache node is on record for service [{self.name}].")
        return node

    def size_mb(self) -> int:
        size = str(self.parameters.get("size", "1"))
        if not (size.isascii() and size.isdigit() and 1 <= int(size) <= MAX_SIZE):
            raise Refused(f"size must be a whole number from 1 to {MAX_SIZE}, got {size!r}.")
        return int(size) * self.mb_per_size

    def check_server(self) -> None:
        if not (os.path.isfile(self.server) and os.access(self.server, os.X_OK)):
            raise Refused(
                f"redis-server not found at {self.server}: install it (Debian: apt-get install "
                "redis-server) or set REDIS_CACHING_SERVER in activitylog.toml."
            )

    def start_node(self, node: Node) -> None:
        self.check_server()
        self.say(f"Starting redis-server on {HOST}:{node.port}...")
        version = start(node, self.server)
        self.say(f"Cache node {self.node_name} is up on {HOST}:{node.port} (redis {version}).")

    def stop_node(self, node: Node) -> None:
        if not is_running(node):
            self.say(f"Cache node {self.node_name} is not running.")
            return
        self.say(f"Stopping redis-server on {HOST}:{node.port} (saving its data)...")
        stop(node)


def create(op: Operation) -> None:
    op.begin("create")
    op.check_server()
    megabytes = op.size_mb()
    with port_lock(op.state_dir):
        node = Node.load(op.directory)  # on record already: a retried create
        if node is None:
            port = allocate_port(op.state_dir, *op.ports)
            op.directory.mkdir(parents=True, exist_ok=True)
            node = Node(op.directory, port, megabytes)
            node.save()
    op.say(
        f"Acquired resources for instance({_size_label(megabytes)}) {op.node_name}: "
        f"port {node.port}, maxmemory {megabytes}mb."
    )
    op.progress(30)
    if not is_running(node):
        op.start_node(node)
    op.progress(100)
    op.end("create")


def delete(op: Operation) -> None:
    op.begin("delete")
    node = Node.load(op.directory)
    if node is None:
        op.say(f"Nothing to release: no cache node is on record for [{op.name}].")
    else:
        op.stop_node(node)
        shutil.rmtree(op.directory)
        op.say(f"Released resources of {op.node_name}: port {node.port}, data removed.")
    op.end("delete")


def start_service(op: Operation) -> None:
    op.begin("start")
    node = op.node()
    if is_running(node):
        op.say(f"Cache node {op.node_name} is already running on {HOST}:{node.port}.")
    else:
        op.start_node(node)
    op.end("start")


def stop_service(op: Operation) -> None:
    op.begin("stop")
    op.stop_node(op.node())
    op.end("stop")


def restart(op: Operation) -> None:
    op.begin("restart")
    node = op.node()
    op.stop_node(node)
    op.start_node(node)
    op.end("restart")


def scale(op: Operation) -> None:
    op.begin("scale")
    node = op.node()
    megabytes = op.size_mb()
    op.say(f"Resizing {op.node_name} to {_size_label(megabytes)}: maxmemory {megabytes}mb...")
    if is_running(node):
        set_maxmemory(node.port, megabytes)
    node.maxmemory_mb = megabytes  # what the next start uses
    node.save()
    op.end("scale")


OPERATIONS: dict[str, Callable[[Operation], None]] = {
    "CREATE_SERVICE": create,
    "DELETE_SERVICE": delete,
    "START_SERVICE": start_service,
    "STOP_SERVICE": stop_service,
    "RESTART_SERVICE": restart,
    "SCALE_SERVICE": scale,
}


def _safe(value: str, what: str) -> str:
    if not _SAFE_NAME.fullmatch(value):
        raise Refused(f"This example cannot use {what} {value!r} as a directory name.")
    return value


def _size_label(megabytes: int) -> str:
    return f"{megabytes // 1024}G" if megabytes % 1024 == 0 else f"{megabytes}M"


def carry_out(operation: str) -> None:
    run = OPERATIONS.get(operation)
    if run is None:
        raise Refused(f"This example does not support {operation or 'that operation'}.")
    run(Operation(json.load(sys.stdin), dict(os.environ)))


def main() -> int:
    try:
        carry_out(os.environ.get("ACTIVITYLOG_OPERATION", ""))
    except Refused as exc:
        print(exc, file=sys.stderr)  # the job's failure message carries it
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
