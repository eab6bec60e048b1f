"""Benchmark GET .../activitylog/{domain}/job/{jobId} against nginx serving the same bytes.

Seeds a fresh SQLite database, starts `activitylog serve` and an nginx on loopback, and loads
each with wrk: nginx's static file, then a SUCCEED job, then a RUNNING job. Prints requests
per second and latency with their ratios to nginx, the floor for one HTTP answer on this box.
A bare ASGI app serving the same bytes on the same server as activitylog (bare_asgi.py) is
measured too: the floor for any Python application served that way.

    .venv/bin/python bench/job_status.py [--jobs N] [--duration S] [--connections C] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from activitylog.client import paths
from report import format_table, load_average, write_json
from seeding import SeededJobs, seed_jobs
from servers import activitylog_server, bare_asgi_server, free_port, http_get, nginx_server
from wrk import WrkLoad, WrkResult, figures_against, run_wrk

NGINX = "nginx (static file)"
BARE = "bare ASGI app, same server"


@dataclasses.dataclass(frozen=True, slots=True)
class Target:
    name: str
    url: str
    headers: dict[str, str]


@dataclasses.dataclass(frozen=True, slots=True)
class Measurement:
    target: Target
    result: WrkResult


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs to seed (default 10000)")
    parser.add_argument(
        "--duration", type=float, default=30.0, help="seconds per target (default 30)"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per target (default 2)")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c (default 64)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # unwind, so the servers are stopped
    load = WrkLoad(threads=1, connections=options.connections, seconds=options.duration)
    warmup = dataclasses.replace(load, seconds=options.warmup)
    load_at_start = load_average()
    with tempfile.TemporaryDirectory(prefix="activitylog-bench-") as directory:
        measurements, body = run_benchmark(Path(directory), options.jobs, load, warmup)
    print(format_results(measurements))
    write_json(options.json, figures(measurements, body, options, load_at_start))
    return 0


def run_benchmark(
    work: Path, jobs: int, load: WrkLoad, warmup: WrkLoad
) -> tuple[list[Measurement], bytes]:
    """Seed, start both servers, and measure each target; the servers stop on the way out."""
    work.chmod(0o711)  # nginx's worker runs as another user when we are root
    print(f"seeding {jobs} jobs ...", file=sys.stderr)
    seeded = seed_jobs(str(work / "activitylog.db"), jobs)
    with contextlib.ExitStack() as stack:
        api = stack.enter_context(
            activitylog_server(work / "activitylog.db", free_port(), work / "activitylog.log")
        )
        terminal, running = activitylog_targets(api, seeded)
        body = fetch_job(terminal, "SUCCEED")
        fetch_job(running, "RUNNING")
        path = paths.job_path(seeded.domain, seeded.terminal_job_id)
        publish(work / "www", path, body)
        base = stack.enter_context(nginx_server(work / "www", work, free_port(), path))
        nginx = Target(NGINX, f"{base}{path}", {})
        bare_base = stack.enter_context(
            bare_asgi_server(work / "www" / path.lstrip("/"), free_port(), work / "bare.log")
        )
        bare = Target(BARE, f"{bare_base}{path}", {})
        for reference in (nginx, bare):
            if http_get(reference.url)[1] != body:
                raise RuntimeError(f"{reference.name} does not serve the job's exact bytes")
        targets = (nginx, bare, terminal, running)
        return [measure(target, load, warmup) for target in targets], body


def activitylog_targets(api: str, seeded: SeededJobs) -> tuple[Target, Target]:
    headers = seeded.headers

    def target(name: str, job_id: int) -> Target:
        return Target(name, api + paths.job_path(seeded.domain, job_id), headers)

    return (
        target("activitylog SUCCEED job", seeded.terminal_job_id),
        target("activitylog RUNNING job", seeded.running_job_id),
    )


def fetch_job(target: Target, status: str) -> bytes:
    """The job's body, checked: a 200 whose status is ``status``."""
    code, body = http_get(target.url, target.headers)
    if code != 200 or json.loads(body).get("status") != status:
        raise RuntimeError(f"GET {target.url} gave {code}, not a {status} job: {body[:300]!r}")
    return body


def publish(root: Path, url_path: str, body: bytes) -> None:
    """Write ``body`` where nginx serves it at ``url_path``, readable by its worker."""
    relative = Path(url_path.lstrip("/"))
    (root / relative).parent.mkdir(parents=True)
    (root / relative).write_bytes(body)
    (root / relative).chmod(0o644)
    for directory in relative.parents:  # down to "." itself, the root
        (root / directory).chmod(0o755)


def measure(target: Target, load: WrkLoad, warmup: WrkLoad) -> Measurement:
    print(f"wrk: {target.name}: {warmup.seconds:g} s warm-up, {load.seconds:g} s", file=sys.stderr)
    if warmup.seconds > 0:
        run_wrk(target.url, warmup, target.headers)
    return Measurement(target, run_wrk(target.url, load, target.headers))


def format_results(measurements: list[Measurement]) -> str:
    baseline, bare = measurements[0].result, measurements[1].result
    header = (
        "target",
        "req/s",
        "p50 ms",
        "p99 ms",
        "req/s vs nginx",
        "p99 vs nginx",
        "req/s vs bare app",
        "errors",
    )
    return format_table([header, *(_table_row(m, baseline, bare) for m in measurements)])


def _table_row(measurement: Measurement, baseline: WrkResult, bare: WrkResult) -> tuple[str, ...]:
    result = measurement.result
    return (
        measurement.target.name,
        f"{result.requests_per_second:,.0f}",
        f"{result.latency_ms['50']:.2f}",
        f"{result.latency_ms['99']:.2f}",
        f"{result.requests_per_second / baseline.requests_per_second:.3f}",
        f"{result.latency_ms['99'] / baseline.latency_ms['99']:.1f}x",
        f"{result.requests_per_second / bare.requests_per_second:.3f}",
        str(result.errors),
    )


def figures(
    measurements: list[Measurement],
    body: bytes,
    options: argparse.Namespace,
    load_at_start: float,
) -> dict[str, object]:
    baseline, bare = measurements[0].result, measurements[1].result
    return {
        "benchmark": "job_status",
        "jobs": options.jobs,
        "duration_seconds": options.duration,
        "connections": options.connections,
        "threads": 1,
        "cpus": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "body_bytes": len(body),
        "results": [
            figures_against(m.target.name, m.result, baseline)
            | {"rps_ratio_to_bare_app": m.result.requests_per_second / bare.requests_per_second}
            for m in measurements
        ],
    }


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers were stopped on the way out
        sys.exit(130)
