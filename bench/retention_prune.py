"""Pruning half of a million jobs while the job GET and the engine run, against the same run
without pruning.

Seeds a SQLite database with seeding.py, picks the retention (in days) that lets exactly
``--prune`` ended jobs go, then runs `activitylog serve` (API and in-process worker, demo
`caching` type without step delays) twice on it: first with pruning off, then with it on.
Each run loads it for ``--duration`` seconds with wrk on one kept SUCCEED job and with
``--in-flight`` creates at a time for the engine, and reads from /metrics the jobs the engine
ended. The pruning run then waits for the pass to finish: its time, and the file's size and
free pages after.

    .venv/bin/python bench/retention_prune.py [--jobs N] [--prune N] [--prune-batch-size B]
        [--duration S] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from activitylog.client import paths
from engine_load import WORKS, Submitter
from report import format_table, load_average, write_json
from seeding import SeededJobs, seed_jobs
from servers import activitylog_process, free_port, http_get
from wrk import WrkLoad, WrkResult, run_wrk

DAY_MS = 86_400_000
ENDED = "('SUCCEED', 'FAILED', 'WARN')"


@dataclasses.dataclass(frozen=True, slots=True)
class RunFigures:
    label: str
    get: WrkResult
    engine_jobs_per_second: float
    prune_seconds: float | None = None
    pruned_jobs: int = 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--prune", type=int, default=500_000, help="ended jobs to let go")
    parser.add_argument("--prune-batch-size", type=int, default=500)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load a run")
    parser.add_argument("--connections", type=int, default=16, help="wrk's -c")
    parser.add_argument("--in-flight", type=int, default=8, help="creates posted at once")
    parser.add_argument("--concurrency", type=int, default=4, help="worker slots")
    parser.add_argument("--json", type=Path)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="activitylog-prune-") as directory:
        work = Path(directory)
        db = work / "jobs.db"
        print(f"seeding {args.jobs:,} jobs", file=sys.stderr)
        seeded = seed_jobs(str(db), args.jobs)
        days, kept_job = retention_for(db, args.prune)
        size_before = database_size(db)
        runs = [
            run(work, db, seeded, kept_job, args, days=days, prune=False),
            run(work, db, seeded, kept_job, args, days=days, prune=True),
        ]
        size_after = database_size(db)
        reuse = free_pages_reused(db)
    print(report(args, runs, size_before, size_after, reuse, days))
    if args.json:
        write_json(args.json, figures(args, runs, size_before, size_after, reuse, days))
    return 0


def retention_for(db: Path, prune: int) -> tuple[float, int]:
    """The retention in days that lets the ``prune`` earliest-ended jobs go, and a SUCCEED
    `caching` job it keeps (the GET's target)."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        (last_pruned,) = connection.execute(
            f"SELECT end_date FROM jobs WHERE status IN {ENDED} ORDER BY end_date LIMIT 1 OFFSET ?",
            [prune - 1],
        ).fetchone()
        (kept,) = connection.execute(
            "SELECT max(job_id) FROM jobs WHERE status = 'SUCCEED' AND service_type = 'caching'"
        ).fetchone()
    # A minute's margin past the last job to go: the run starts a little later.
    return (time.time() * 1000 - last_pruned - 60_000) / DAY_MS, kept


def run(
    work: Path,
    db: Path,
    seeded: SeededJobs,
    kept_job: int,
    args: argparse.Namespace,
    *,
    days: float,
    prune: bool,
) -> RunFigures:
    label = f"pruning, batch {args.prune_batch_size}" if prune else "no pruning"
    arguments = [
        "--db", str(db), "--concurrency", str(args.concurrency), "--demo-step-delay", "0",
        "--retention-days", f"{days:.6f}", "--prune-batch-size", str(args.prune_batch_size),
        "--prune-interval", "3600" if prune else "0",
    ]  # fmt: skip
    port = free_port()
    started = time.monotonic()
    with activitylog_process("serve", arguments, port, work / f"serve-{prune}.log") as api:
        print(f"{label}: {args.duration:g} s of GETs and creates", file=sys.stderr)
        get, jobs_per_second = asyncio.run(load(api, seeded, kept_job, args))
        prune_seconds = wait_for_prune(api, started) if prune else None
        pruned = int(metric(api, r'activitylog_pruned_total\{kind="jobs"\}'))
    return RunFigures(label, get, jobs_per_second, prune_seconds, pruned)


async def load(
    api: str, seeded: SeededJobs, kept_job: int, args: argparse.Namespace
) -> tuple[WrkResult, float]:
    """wrk on the kept job while creates keep the engine busy; its jobs/s from /metrics."""
    url = api + paths.job_path(seeded.domain, kept_job)
    code, body = http_get(url, seeded.headers)
    if code != 200:
        raise RuntimeError(f"GET {url}: {code} {body[:200]!r}")
    stop = asyncio.Event()
    host, port = api.removeprefix("http://").split(":")
    creates = [
        asyncio.create_task(keep_creating(host, int(port), f"r{time.monotonic_ns()}x{n}x", stop))
        for n in range(args.in_flight)
    ]
    await asyncio.sleep(2)  # the queue fills, the engine is at work
    ended_before, since = ended_jobs(api), time.monotonic()
    get = await asyncio.to_thread(
        run_wrk, url, WrkLoad(1, args.connections, args.duration), seeded.headers
    )
    jobs_per_second = (ended_jobs(api) - ended_before) / (time.monotonic() - since)
    stop.set()
    await asyncio.gather(*creates)
    return get, jobs_per_second


async def keep_creating(host: str, port: int, prefix: str, stop: asyncio.Event) -> None:
    submitter = Submitter(host, port, WORKS["demo"])
    try:
        n = 0
        while not stop.is_set():
            await submitter.submit(f"{prefix}{n}")
            n += 1
    finally:
        await submitter.close()


def wait_for_prune(api: str, started: float) -> float:
    """Seconds from the start of the process to the end of its first prune pass."""
    while metric(api, "activitylog_prune_last_pass_timestamp_seconds") == 0:
        time.sleep(0.2)
    return time.monotonic() - started


def ended_jobs(api: str) -> float:
    return metric(api, r"activitylog_jobs_ended_total\{[^}]*\}")


def metric(api: str, pattern: str) -> float:
    """The sum of the samples whose name and labels match ``pattern``."""
    _, body = http_get(api + "/metrics")
    found = re.findall(rf"^{pattern} ([0-9.e+-]+)$", body.decode(), re.MULTILINE)
    return sum(float(value) for value in found)


def database_size(db: Path) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        page_size = connection.execute("PRAGMA page_size").fetchone()[0]
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        free = connection.execute("PRAGMA freelist_count").fetchone()[0]
    return {"bytes": pages * page_size, "free_bytes": free * page_size}


def free_pages_reused(db: Path) -> dict[str, int]:
    """Copy 100,000 kept jobs' messages into a scratch table: do they take free pages, or
    grow the file?"""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        before = database_size(db)
        connection.execute(
            "CREATE TABLE scratch AS SELECT * FROM job_messages WHERE job_id IN "
            "(SELECT job_id FROM jobs ORDER BY job_id DESC LIMIT 100000)"
        )
        connection.commit()
        after = database_size(db)
        connection.execute("DROP TABLE scratch")
        connection.commit()
    return {
        "written_bytes": before["free_bytes"] - after["free_bytes"],
        "file_growth_bytes": after["bytes"] - before["bytes"],
    }


def report(
    args: argparse.Namespace,
    runs: list[RunFigures],
    before: dict[str, int],
    after: dict[str, int],
    reuse: dict[str, int],
    days: float,
) -> str:
    baseline = runs[0]
    header = ("run", "GET req/s", "p50 ms", "p99 ms", "p99 x", "engine jobs/s", "slower x")
    rows = [(*header, "prune s")]
    rows.extend(
        (
            r.label,
            f"{r.get.requests_per_second:,.0f}",
            f"{r.get.latency_ms['50']:.2f}",
            f"{r.get.latency_ms['99']:.2f}",
            f"{r.get.latency_ms['99'] / baseline.get.latency_ms['99']:.2f}",
            f"{r.engine_jobs_per_second:,.0f}",
            f"{baseline.engine_jobs_per_second / max(r.engine_jobs_per_second, 1e-9):.2f}",
            "" if r.prune_seconds is None else f"{r.prune_seconds:.1f}",
        )
        for r in runs
    )
    mb = 1024 * 1024
    return "\n".join(
        [
            format_table(rows),
            f"pruned {runs[1].pruned_jobs:,} of {args.jobs:,} jobs (retention {days:.2f} days)",
            f"file {before['bytes'] / mb:,.0f} MB before, {after['bytes'] / mb:,.0f} MB after, "
            f"{after['free_bytes'] / mb:,.0f} MB of it free pages",
            f"then {reuse['written_bytes'] / mb:,.0f} MB written took free pages, the file grew "
            f"{reuse['file_growth_bytes'] / mb:,.0f} MB",
            f"load average {load_average()}",
        ]
    )


def figures(
    args: argparse.Namespace,
    runs: list[RunFigures],
    before: dict[str, int],
    after: dict[str, int],
    reuse: dict[str, int],
    days: float,
) -> dict[str, Any]:
    return {
        "arguments": {k: str(v) for k, v in vars(args).items()},
        "retention_days": days,
        "runs": [
            {
                "label": r.label,
                "get_requests_per_second": r.get.requests_per_second,
                "get_latency_ms": r.get.latency_ms,
                "get_errors": r.get.errors,
                "engine_jobs_per_second": r.engine_jobs_per_second,
                "prune_seconds": r.prune_seconds,
                "pruned_jobs": r.pruned_jobs,
            }
            for r in runs
        ],
        "size_before": before,
        "size_after": after,
        "free_page_reuse": reuse,
    }


if __name__ == "__main__":
    sys.exit(main())
