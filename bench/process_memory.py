"""Resident memory of a process and its descendants, read from /proc (Linux only)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path

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


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``: children, their children, and so on."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (parent := _parent(int(entry.name))) is not None:
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children.get(child, []))
    return found


def child_with_port(port: int) -> int:
    """The pid of our child process started with ``--port port``."""
    for pid in descendants(os.getpid()):
        with contextlib.suppress(OSError):
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
            if "--port" in command[:-1] and command[command.index("--port") + 1] == str(port):
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


def _parent(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name, in parentheses, may hold spaces; the parent is the 2nd field after it.
    return int(text.rpartition(")")[2].split()[1])
