"""Run wrk against one URL and read its summary: requests per second, latency, errors."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from activitylog.client import paths

_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_PERCENTILE = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_REQUESTS_PER_SECOND = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_TOTAL = re.compile(r"^\s+(\d+) requests in ", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")


def job_path_before_id(domain: str) -> str:
    """random_jobs.lua's WRK_JOB_PATH: the job-status path up to the id the script appends."""
    return paths.expand(paths.JOB, domain=domain, jobId="")


@dataclasses.dataclass(frozen=True, slots=True)
class WrkLoad:
    """How hard to push: wrk's -t, -c and -d."""

    threads: int
    connections: int
    seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class WrkResult:
    requests: int
    requests_per_second: float
    latency_ms: dict[str, float]
    """Percentile ("50", "75", "90", "99") to milliseconds."""
    socket_errors: int
    """Connect, read and write errors, and timeouts (wrk's default timeout is 2 s)."""
    timeouts: int
    non_2xx: int

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non_2xx


class WrkFailed(RuntimeError):
    """wrk exited with an error, or printed a summary this module cannot read."""


def run_wrk(
    url: str,
    load: WrkLoad,
    headers: Mapping[str, str] | None = None,
    *,
    script: Path | None = None,
    script_env: Mapping[str, str] | None = None,
) -> WrkResult:
    """Load ``url`` for ``load.seconds`` and return wrk's figures; ``script`` is a wrk Lua
    script (which reads its settings from ``script_env``, added to our environment)."""
    finished = subprocess.run(
        wrk_command(url, load, headers, script),
        capture_output=True,
        text=True,
        check=False,
        timeout=load.seconds + 60,
        env={**os.environ, **script_env} if script_env else None,
    )
    if finished.returncode != 0:
        raise WrkFailed(f"wrk exited with {finished.returncode}: {finished.stderr.strip()}")
    return parse_wrk_output(finished.stdout)


def wrk_command(
    url: str, load: WrkLoad, headers: Mapping[str, str] | None = None, script: Path | None = None
) -> list[str]:
    command = ["wrk", f"-t{load.threads}", f"-c{load.connections}", f"-d{load.seconds:g}s"]
    command.append("--latency")
    if script is not None:
        command += ["-s", str(script)]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    return [*command, url]


def parse_wrk_output(output: str) -> WrkResult:
    """Read the summary that `wrk --latency` prints."""
    rate = _REQUESTS_PER_SECOND.search(output)
    total = _TOTAL.search(output)
    latency = {
        percentile: float(value) * _UNIT_MS[unit]
        for percentile, value, unit in _PERCENTILE.findall(output)
    }
    if rate is None or total is None or "99" not in latency:
        raise WrkFailed(f"cannot read wrk's output:\n{output}")
    socket_errors = _SOCKET_ERRORS.search(output)
    counts = [int(count) for count in socket_errors.groups()] if socket_errors else [0]
    non_2xx = _NON_2XX.search(output)
    return WrkResult(
        requests=int(total.group(1)),
        requests_per_second=float(rate.group(1)),
        latency_ms=latency,
        socket_errors=sum(counts),
        timeouts=counts[-1],
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
    )


def figures_against(target: str, result: WrkResult, baseline: WrkResult) -> dict[str, Any]:
    """One target's figures for --json, with its ratios to the baseline (nginx) measured in the
    same run."""
    return {
        "target": target,
        "requests": result.requests,
        "requests_per_second": result.requests_per_second,
        "latency_ms": result.latency_ms,
        "socket_errors": result.socket_errors,
        "timeouts": result.timeouts,
        "non_2xx": result.non_2xx,
        "rps_ratio_to_nginx": result.requests_per_second / baseline.requests_per_second,
        "p99_ratio_to_nginx": result.latency_ms["99"] / baseline.latency_ms["99"],
    }
