"""What the peer modules share: a run's settings and figures, the peer's worker process, and the
CPU time of the processes a run involves (read from /proc, Linux only)."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path

from process_cpu import cpu_seconds, descendants
from servers import background_process, bench_environment

POLL_SECONDS = 0.2
WARM_UP_SECONDS = 60.0


class PeerFailed(RuntimeError):
    """A peer's worker did not start, or its first (warm-up) task never completed."""


@dataclasses.dataclass(frozen=True, slots=True)
class PeerSettings:
    operations: int
    logs: Path
    """A directory for the worker's output."""
    redis_url: str
    database_url: str
    """A fresh PostgreSQL database, for the peers that keep their jobs there."""
    timeout: float
    """Seconds to wait for the tasks to complete."""


@dataclasses.dataclass(frozen=True, slots=True)
class PeerRun:
    peer: str
    version: str
    setup: str
    """How it ran, for people: worker options, broker, result store."""
    operations: int
    succeeded: int
    seconds: float
    """From just before the first enqueue to the last completion, as the peer recorded it."""
    enqueue_seconds: float
    """From just before the first enqueue to just after the last."""
    cpu_percent: dict[str, float]
    """"worker" (its whole process tree), "broker" (Redis or PostgreSQL), "client"."""
    problems: tuple[str, ...]

    @property
    def jobs_per_second(self) -> float:
        return self.succeeded / self.seconds if self.seconds > 0 else 0.0

    @property
    def enqueues_per_second(self) -> float:
        return self.operations / self.enqueue_seconds if self.enqueue_seconds > 0 else 0.0


def problems_of(operations: int, succeeded: int, failed: int, timed_out: bool) -> list[str]:
    problems = [] if succeeded == operations else [f"{succeeded} of {operations} tasks succeeded"]
    if failed:
        problems.append(f"{failed} tasks failed")
    if timed_out:
        problems.append("timed out: not every task had completed")
    return problems


@contextlib.contextmanager
def worker_process(arguments: Sequence[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m <arguments>`` with bench/ importable, output to ``log``; stopped on the way
    out (SIGTERM, then SIGKILL after 10 s)."""
    command = [sys.executable, "-m", *arguments]
    with background_process(command, log, bench_environment()) as process:
        yield process


def wait_for(
    done: Callable[[], bool], seconds: float, worker: subprocess.Popen[bytes], log: Path
) -> bool:
    """Poll ``done`` until it holds (True) or ``seconds`` pass (False); fail if the worker died."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        check_running(worker, log)
        if done():
            return True
        time.sleep(POLL_SECONDS)
    return False


def check_running(worker: subprocess.Popen[bytes], log: Path) -> None:
    """Raise PeerFailed, with the end of its output, if the worker has exited."""
    if worker.poll() is not None:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise PeerFailed(f"{worker.args!r} exited early:\n{tail}")


# -- CPU time ---------------------------------------------------------------------------------


class CpuWindow:
    """CPU time per role over a window, in % of one core; each role names its processes anew
    at every sample, so that processes started meanwhile count from zero."""

    def __init__(self, roles: Mapping[str, Callable[[], Iterable[int]]]) -> None:
        self._roles = roles
        self._started: dict[int, float] = {}
        self._started_at = 0.0

    def start(self) -> None:
        self._started, self._started_at = self._sample_all(), time.monotonic()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._started_at
        percent: dict[str, float] = collections.defaultdict(float)
        for role, pids in self._roles.items():
            for pid in set(pids()):
                seconds = cpu_seconds(pid)
                if seconds is not None:
                    percent[role] += 100 * (seconds - self._started.get(pid, 0.0)) / wall
        return dict(percent)

    def _sample_all(self) -> dict[int, float]:
        sample = {}
        for pids in self._roles.values():
            for pid in pids():
                seconds = cpu_seconds(pid)
                if seconds is not None:
                    sample[pid] = seconds
        return sample


def this_process() -> list[int]:
    return [os.getpid()]


def process_tree(root: int) -> Callable[[], list[int]]:
    """``root`` and all its descendants (a prefork pool's children, say)."""
    return lambda: [root, *descendants(root)]


def processes_named(name: str) -> Callable[[], list[int]]:
    """Every process whose command name (/proc/PID/comm) is ``name``: "redis-server", say."""

    def pids() -> list[int]:
        found = []
        for entry in _pid_entries():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
        return found

    return pids


def backends_of(database: str) -> Callable[[], list[int]]:
    """The PostgreSQL backends serving ``database`` (their title names it)."""

    def pids() -> list[int]:
        found = []
        for entry in _pid_entries():
            with contextlib.suppress(OSError):
                title = (entry / "cmdline").read_bytes().decode(errors="replace")
                if title.startswith("postgres: ") and f" {database} " in title:
                    found.append(int(entry.name))
        return found

    return pids


def _pid_entries() -> Iterator[Path]:
    return (entry for entry in Path("/proc").iterdir() if entry.name.isdigit())
