"""Benchmark polling many jobs: every GET .../job/{jobId} asks for another job, at random.

job_status.py polls one job, the server's best case. Here each request picks a job id at random
among all --jobs (bench/random_jobs.lua), as many clients polling many jobs do; or among
--spread of them spread evenly over all, to compare stores of different sizes polled alike.
Answers are kept in memory once read (up to 20 MiB of ended jobs and 4 MiB of others): at
10,000 jobs they soon all are, at a million most polls miss and read the store. nginx serves
one job's bytes at every job path (the floor, as in job_status.py), loaded by the same script.

    .venv/bin/python bench/poll_random_jobs.py [--jobs N] [--duration S] [--connections C]
        [--spread N] [--existing DB] [--json FILE]
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from report import format_table, load_average, write_json
from seeding import SeededJobs, seeded_database
from servers import activitylog_process, free_port, http_get, nginx_server
from wrk import WrkLoad, WrkResult, figures_against, job_path_before_id, run_wrk

SCRIPT = Path(__file__).resolve().parent / "random_jobs.lua"
NGINX = "nginx (one file, any job)"


@dataclasses.dataclass(frozen=True, slots=True)
class Measurement:
    target: str
    result: WrkResult


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1_000_000, help="jobs (default 1000000)")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per target (default 10)"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds per target (default 3)")
    parser.add_argument("--connections", type=int, default=64, help="wrk -c (default 64)")
    parser.add_argument(
        "--existing", default=None, help="a SQLite file seeding.py made: used as it is"
    )
    parser.add_argument(
        "--spread",
        type=int,
        default=None,
        help="ask only for N jobs spread evenly over all: as many jobs polled, and as mixed, "
        "whatever the number stored (default: all)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # unwind, so the servers are stopped
    load = WrkLoad(threads=1, connections=options.connections, seconds=options.duration)
    warmup = dataclasses.replace(load, seconds=options.warmup)
    load_at_start = load_average()
    with tempfile.TemporaryDirectory(prefix="activitylog-poll-") as directory:
        work = Path(directory)
        work.chmod(0o711)  # nginx's worker runs as another user when we are root
        with seeded_database(work, options.jobs, existing=options.existing) as (db, seeded):
            polled = min(options.spread or seeded.jobs, seeded.jobs)
            measurements = run_benchmark(work, db, seeded, polled, load, warmup)
    print(format_results(measurements, seeded.jobs, polled))
    write_json(options.json, figures(measurements, seeded.jobs, polled, options, load_at_start))
    return 0


def run_benchmark(
    work: Path, db: str, seeded: SeededJobs, polled: int, load: WrkLoad, warmup: WrkLoad
) -> list[Measurement]:
    """Start both servers, then load each with random ids among ``polled`` jobs spread over
    all; they stop on the way out."""
    headers = seeded.headers
    prefix = job_path_before_id(seeded.domain)
    arguments = ["--db", db, "--no-worker"]
    with contextlib.ExitStack() as stack:
        api = stack.enter_context(
            activitylog_process("serve", arguments, free_port(), work / "serve.log")
        )
        status, body = http_get(f"{api}{prefix}{seeded.terminal_job_id}", headers)
        if status != 200:
            raise RuntimeError(f"the sample job answered {status}: {body[:300]!r}")
        publish(work / "www", "job.json", body)
        ready = f"{prefix}{seeded.terminal_job_id}"
        nginx = stack.enter_context(
            nginx_server(work / "www", work, free_port(), ready, any_id=(prefix, "/job.json"))
        )
        env = {"WRK_JOBS": str(seeded.jobs), "WRK_SPREAD": str(polled), "WRK_JOB_PATH": prefix}
        return [
            measure(NGINX, nginx, {}, load, warmup, env),
            measure("activitylog, random jobs", api, headers, load, warmup, env),
        ]


def publish(root: Path, name: str, body: bytes) -> None:
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    (root / name).write_bytes(body)
    (root / name).chmod(0o644)


def measure(
    name: str,
    base: str,
    headers: dict[str, str],
    load: WrkLoad,
    warmup: WrkLoad,
    env: dict[str, str],
) -> Measurement:
    print(f"wrk: {name}: {warmup.seconds:g} s warm-up, {load.seconds:g} s", file=sys.stderr)
    if warmup.seconds > 0:
        run_wrk(base, warmup, headers, script=SCRIPT, script_env=env)
    return Measurement(name, run_wrk(base, load, headers, script=SCRIPT, script_env=env))


def format_results(measurements: list[Measurement], jobs: int, polled: int) -> str:
    baseline = measurements[0].result
    header = ("target", "req/s", "p50 ms", "p99 ms", "req/s vs nginx", "p99 vs nginx", "errors")
    rows: list[tuple[str, ...]] = [header]
    for m in measurements:
        r = m.result
        rows.append(
            (
                m.target,
                f"{r.requests_per_second:,.0f}",
                f"{r.latency_ms['50']:.2f}",
                f"{r.latency_ms['99']:.2f}",
                f"{r.requests_per_second / baseline.requests_per_second:.3f}",
                f"{r.latency_ms['99'] / baseline.latency_ms['99']:.1f}x",
                str(r.errors),
            )
        )
    among = f"{jobs:,} jobs" if polled == jobs else f"{polled:,} jobs spread over {jobs:,}"
    return f"random job ids among {among}\n{format_table(rows)}"


def figures(
    measurements: list[Measurement],
    jobs: int,
    polled: int,
    options: argparse.Namespace,
    load: float,
) -> dict[str, object]:
    baseline = measurements[0].result
    return {
        "benchmark": "poll_random_jobs",
        "jobs": jobs,
        "jobs_polled": polled,
        "duration_seconds": options.duration,
        "connections": options.connections,
        "load_average_at_start": load,
        "results": [figures_against(m.target, m.result, baseline) for m in measurements],
    }


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # the servers were stopped on the way out
        sys.exit(main())
    sys.exit(130)
