"""CPU time per process role over a measured window, read from /proc (Linux only).

Roles are given by the caller: its children by their ``--port`` argument, the PostgreSQL
backends serving one database, and this process itself; whatever else kept the machine busy
meanwhile is reported too, so that a noisy run can say so.
"""

from __future__ import annotations

import collections
import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # /proc counts CPU time in these


class CpuMeter:
    """CPU time each role's processes used over a window, read from /proc (Linux only).

    Roles: "api" and "worker" (our children, told apart by their --port), "postgres" (the
    backends serving the benchmark's database) and "client" (this process); "rest" is the
    machine's busy time (/proc/stat) less all of those: the kernel, PostgreSQL's own
    background processes, and whatever else runs on the machine meanwhile.
    """

    def __init__(self, roles_by_port: dict[int, str], database: str | None) -> None:
        self._roles_by_port = roles_by_port
        self._database = database
        self._started: dict[int, tuple[str, float]] = {}
        self._started_at = 0.0
        self._machine_busy = 0.0

    def start(self) -> None:
        self._started, self._started_at = self._sample(), time.monotonic()
        self._machine_busy = _machine_busy_seconds()

    def stop(self) -> dict[str, float]:
        """Role to % of one core since start(); "busiest worker" is the one worker most used."""
        ended, wall = self._sample(), time.monotonic() - self._started_at
        used: dict[int, tuple[str, float]] = {
            pid: (role, seconds - self._started.get(pid, (role, 0.0))[1])
            for pid, (role, seconds) in ended.items()
        }
        percent: dict[str, float] = collections.defaultdict(float)
        for role, seconds in used.values():
            percent[role] += 100 * seconds / wall
        ours = sum(seconds for _, seconds in used.values())
        rest = _machine_busy_seconds() - self._machine_busy - ours
        workers = [seconds for role, seconds in used.values() if role == "worker"]
        percent["busiest worker"] = 100 * max(workers, default=0.0) / wall
        percent["rest"] = 100 * max(rest, 0.0) / wall
        return dict(percent)

    def _sample(self) -> dict[int, tuple[str, float]]:
        sample: dict[int, tuple[str, float]] = {}
        for pid, role in self._roles().items():
            seconds = cpu_seconds(pid)
            if seconds is not None:
                sample[pid] = (role, seconds)
        return sample

    def _roles(self) -> dict[int, str]:
        roles = {os.getpid(): "client"}
        for pid, command in _processes():
            if parent_of(pid) == os.getpid() and (port := port_argument(command)) is not None:
                roles[pid] = self._roles_by_port.get(port, "other")
            elif self._database and command[:1] and _is_backend_of(command[0], self._database):
                roles[pid] = "postgres"
        return roles


def _machine_busy_seconds() -> float:
    """CPU time every CPU has spent busy since boot: all but idle and iowait."""
    with Path("/proc/stat").open() as stat:
        ticks = [int(field) for field in stat.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def _processes() -> Iterator[tuple[int, list[str]]]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                raw = (entry / "cmdline").read_bytes()
                yield int(entry.name), raw.decode(errors="replace").split("\0")


def _is_backend_of(title: str, database: str) -> bool:
    # A backend's title: "postgres: [<cluster>: ]<user> <database> <host>(<port>) <state>".
    return title.startswith("postgres: ") and f" {database} " in title


def port_argument(command: list[str]) -> int | None:
    """The value of a command line's ``--port``, if it has one."""
    if "--port" not in command[:-1]:
        return None
    value = command[command.index("--port") + 1]
    return int(value) if value.isdigit() else None


def stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def parent_of(pid: int) -> int | None:
    fields = stat_fields(pid)
    return int(fields[1]) if fields else None


def descendants(pid: int) -> list[int]:
    """Every process below ``pid``: children, their children, and so on."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (parent := parent_of(int(entry.name))) is not None:
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], list(children.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(children.get(child, []))
    return found


def cpu_seconds(pid: int) -> float | None:
    fields = stat_fields(pid)
    # utime and stime are the 14th and 15th fields; the list starts at the 3rd.
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS if fields else None
