"""Resident memory of a process and its descendants, read from /proc (Linux only)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

from process_cpu import descendants, port_argument

_FIELDS = ("VmRSS", "RssAnon", "RssFile", "RssShmem")
BYTES_PER_MB = 1_000_000


@dataclasses.dataclass(frozen=True, slots=True)
class Memory:
    """Resident set sizes in MB (10^6 bytes), summed over a process and its descendants."""

    rss: float
    anon: float
    """Heap, stacks, SQLite's page cache: memory only this process has."""
    file: float
    """Pages of mapped files: the interpreter, shared libraries, memory-mapped databases."""
    processes: int


def tree_memory(pid: int) -> Memory:
    """The memory of ``pid`` and every process below it, now."""
    totals = dict.fromkeys(_FIELDS, 0)
    pids = [pid, *descendants(pid)]
    for member in pids:
        for field, kib in _status_fields(member).items():
            totals[field] += kib
    to_mb = 1024 / BYTES_PER_MB
    return Memory(
        rss=totals["VmRSS"] * to_mb,
        anon=totals["RssAnon"] * to_mb,
        file=(totals["RssFile"] + totals["RssShmem"]) * to_mb,
        processes=len(pids),
    )


def child_with_port(port: int) -> int:
    """The pid of our child process started with ``--port port``."""
    for pid in descendants(os.getpid()):
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            if port_argument(command) == port:
                return pid
    raise LookupError(f"no child process of ours has --port {port}")


def _status_fields(pid: int) -> dict[str, int]:
    """The memory fields of /proc/PID/status, in KiB (0 for a process that just ended)."""
    fields = dict.fromkeys(_FIELDS, 0)
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in fields:
                fields[name] = int(value.split()[0])
    return fields
