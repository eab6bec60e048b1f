"""Measure the server's memory on a million jobs, and whether it drifts over a soak under load.

Seeds (seeding.py) a fresh database with --jobs jobs, starts `activitylog serve` with its
in-process worker on it, and reads the process's resident memory (VmRSS, its descendants'
included) from /proc: once it answers, after a warm-up under load, and every --sample-seconds
over a soak of --soak-seconds under the same mixed load:

- wrk polls the status of random jobs among all of them (bench/random_jobs.lua), capped at
  --poll-rate requests per second: most are ended jobs read for the first time, which fills the
  cache of encoded ended jobs to its bound and then churns it;
- one client runs the typical filter queries of filter_latency.py, one every --filter-interval;
- another creates a `caching` instance every --submit-interval, which the worker runs (demo
  steps 0.1 s apart), and polls the job it submitted before.

    .venv/bin/python bench/rss_soak.py [--jobs N] [--soak-seconds 600] [--db postgresql://...]
        [--existing DB] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import httpx

from activitylog.client import paths
from filter_latency import Landmarks, find_landmarks, typical_queries
from loopback_http import Connection
from process_memory import Memory, child_with_port, tree_memory
from report import format_table, load_average, write_json
from seeding import SeededJobs, add_seeded_database_options, is_postgres, seeded_database
from servers import LOOPBACK, activitylog_process, free_port
from wrk import WrkLoad, WrkResult, job_path_before_id, parse_wrk_output, wrk_command

TARGET_MB = 100.0
SCRIPT = Path(__file__).resolve().parent / "random_jobs.lua"


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    seconds: float
    """Since the load started."""
    memory: Memory


@dataclasses.dataclass
class ClientCounts:
    filters: int = 0
    submitted: int = 0
    polls: int = 0
    errors: int = 0
    job_ids: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True, slots=True)
class SoakResult:
    started: Memory
    samples: list[Sample]
    warmup_seconds: float
    clients: ClientCounts
    polls: WrkResult | None
    ended_jobs: int
    """Of the jobs submitted during the soak, how many had SUCCEEDed at the end."""

    @property
    def soak(self) -> list[Sample]:
        """The samples from the end of the warm-up (the sampler takes one then) on."""
        return [s for s in self.samples if s.seconds >= self.warmup_seconds] or self.samples[-1:]

    @property
    def after_warmup(self) -> float:
        """RSS at the end of the warm-up: the median of the soak's first three samples, so
        that one passing spike (see spikes) does not stand for the level."""
        return statistics.median(s.memory.rss for s in self.soak[:3])

    @property
    def end(self) -> float:
        """RSS at the end: the median of the last three samples."""
        return statistics.median(s.memory.rss for s in self.soak[-3:])

    @property
    def peak(self) -> float:
        return max(s.memory.rss for s in self.samples)

    @property
    def drift(self) -> float:
        return self.end - self.after_warmup

    @property
    def spikes(self) -> int:
        """Samples more than 20 MB above the soak's median: passing peaks, such as an argon2
        verification (64 MiB while it runs) when a credential's cache entry expires."""
        median = statistics.median(s.memory.rss for s in self.soak)
        return sum(s.memory.rss > median + 20 for s in self.soak)

    @property
    def slope_mb_per_minute(self) -> float:
        """The trend of RSS over the second half of the soak: the median of the slopes
        between every two samples (Theil-Sen), which one spike cannot tilt."""
        soak = self.soak
        middle = (soak[0].seconds + soak[-1].seconds) / 2
        half = [s for s in soak if s.seconds >= middle]
        slopes = [
            (b.memory.rss - a.memory.rss) / ((b.seconds - a.seconds) / 60)
            for i, a in enumerate(half)
            for b in half[i + 1 :]
            if b.seconds > a.seconds
        ]
        return statistics.median(slopes) if slopes else math.nan


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_seeded_database_options(parser, " (the soak adds jobs to it)")
    parser.add_argument(
        "--soak-seconds", type=float, default=600.0, help="soak length (default 600)"
    )
    parser.add_argument(
        "--warmup-seconds", type=float, default=60.0, help="load before the soak (default 60)"
    )
    parser.add_argument(
        "--sample-seconds", type=float, default=10.0, help="between RSS samples (default 10)"
    )
    parser.add_argument(
        "--poll-rate", type=int, default=1000, help="job polls per second, at most (1000)"
    )
    parser.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    parser.add_argument(
        "--filter-interval", type=float, default=0.5, help="seconds between filters (0.5)"
    )
    parser.add_argument(
        "--submit-interval", type=float, default=1.0, help="seconds between creates (1)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # unwind: stop the server, drop the database
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="activitylog-soak-") as directory:
        work = Path(directory)
        with seeded_database(work, options.jobs, options.db, options.existing) as (db, seeded):
            store = "postgresql" if is_postgres(db) else "sqlite"
            result = soak(work, db, seeded, options)
    print(format_result(result, store, seeded.jobs))
    write_json(options.json, figures(result, store, seeded.jobs, options, load))
    return 0


def soak(work: Path, db: str, seeded: SeededJobs, options: argparse.Namespace) -> SoakResult:
    port = free_port()
    # The worker runs the soak's creates: a demo `caching` create, five steps 0.1 s apart.
    arguments = ["--db", db, "--concurrency", "4", "--demo-step-delay", "0.1"]
    with activitylog_process("serve", arguments, port, work / "serve.log"):
        pid = child_with_port(port)
        time.sleep(1.0)  # let start-up settle: the first reading is the idle server
        started = tree_memory(pid)
        print(f"RSS after start: {started.rss:.1f} MB", file=sys.stderr)
        return asyncio.run(run_load(port, pid, seeded, options, started))


async def run_load(
    port: int, pid: int, seeded: SeededJobs, options: argparse.Namespace, started: Memory
) -> SoakResult:
    headers = seeded.headers
    total = options.warmup_seconds + options.soak_seconds
    counts = ClientCounts()
    connection = await Connection.open(LOOPBACK, port, headers)
    landmarks = await find_landmarks(connection, seeded.domain)
    wrk = await start_polling(port, headers, seeded, options, total)
    samples: list[Sample] = []
    began = time.monotonic()
    deadline = began + total
    try:
        async with asyncio.TaskGroup() as group:
            group.create_task(sample_memory(pid, began, deadline, options, samples))
            group.create_task(run_filters(connection, seeded, landmarks, deadline, options, counts))
            group.create_task(submit_jobs(port, seeded, deadline, options, counts))
        polls = await finish_polling(wrk)
        ended = await count_ended(port, seeded, counts.job_ids)
    finally:
        if wrk.returncode is None:
            wrk.kill()
            await wrk.wait()
        await connection.close()
    return SoakResult(started, samples, options.warmup_seconds, counts, polls, ended)


async def start_polling(
    port: int,
    headers: dict[str, str],
    seeded: SeededJobs,
    options: argparse.Namespace,
    seconds: float,
) -> asyncio.subprocess.Process:
    """wrk on random jobs for ``seconds``, each connection pausing to cap the rate."""
    delay_ms = max(1, round(options.connections * 1000 / options.poll_rate))
    env = {
        "WRK_JOBS": str(seeded.jobs),
        "WRK_JOB_PATH": job_path_before_id(seeded.domain),
        "WRK_DELAY_MS": str(delay_ms),
    }
    load = WrkLoad(threads=1, connections=options.connections, seconds=seconds)
    command = wrk_command(f"http://{LOOPBACK}:{port}", load, headers, SCRIPT)
    return await asyncio.create_subprocess_exec(
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )


async def finish_polling(wrk: asyncio.subprocess.Process) -> WrkResult | None:
    output, errors = await wrk.communicate()
    if wrk.returncode != 0:
        print(f"note: wrk exited with {wrk.returncode}: {errors.decode()[:300]}", file=sys.stderr)
        return None
    return parse_wrk_output(output.decode())


async def sample_memory(
    pid: int, began: float, deadline: float, options: argparse.Namespace, samples: list[Sample]
) -> None:
    warmed = False
    while True:
        now = time.monotonic()
        samples.append(Sample(now - began, tree_memory(pid)))
        if not warmed and now - began >= options.warmup_seconds:
            print(f"RSS after warm-up: {samples[-1].memory.rss:.1f} MB", file=sys.stderr)
            warmed = True
        if now >= deadline:
            return
        next_at = began + len(samples) * options.sample_seconds
        if not warmed and next_at > began + options.warmup_seconds:
            next_at = began + options.warmup_seconds  # one sample exactly at the warm-up's end
        await asyncio.sleep(max(0.0, min(next_at, deadline) - time.monotonic()))


async def run_filters(
    connection: Connection,
    seeded: SeededJobs,
    landmarks: Landmarks,
    deadline: float,
    options: argparse.Namespace,
    counts: ClientCounts,
) -> None:
    queries = typical_queries(landmarks)
    chooser = random.Random(7)  # noqa: S311 - a load pattern, not a secret
    while time.monotonic() < deadline:
        query = chooser.choice(queries)
        params = dict(query.params)
        if "offset" in params:  # deep pages at random depths, not always the same rows
            params["offset"] = str(chooser.randrange(max(landmarks.total, 1)))
        target = dataclasses.replace(query, params=params).target(seeded.domain)
        answer = await connection.get(target)
        counts.filters += 1
        counts.errors += answer.status != 200
        await asyncio.sleep(options.filter_interval)


async def submit_jobs(
    port: int,
    seeded: SeededJobs,
    deadline: float,
    options: argparse.Namespace,
    counts: ClientCounts,
) -> None:
    create = paths.instances_path(seeded.domain, "caching")
    job = job_path_before_id(seeded.domain)
    async with _client(port, seeded) as client:
        while time.monotonic() < deadline:
            name = f"Soak{len(counts.job_ids):07d}{random.randrange(10**6):06d}"  # noqa: S311
            answer = await client.post(create, json={"serviceParameters": {"serviceName": name}})
            counts.submitted += 1
            if answer.status_code == 202:
                counts.job_ids.append(int(answer.json()["details"]["jobId"]))
            else:
                counts.errors += 1
            if len(counts.job_ids) >= 2:  # the one before: a client polling its job
                status = await client.get(f"{job}{counts.job_ids[-2]}")
                counts.polls += 1
                counts.errors += status.status_code != 200
            await asyncio.sleep(options.submit_interval)


async def count_ended(port: int, seeded: SeededJobs, job_ids: list[int]) -> int:
    """How many of the soak's jobs SUCCEEDed, once the last have had time to."""
    await asyncio.sleep(2.0)
    job = job_path_before_id(seeded.domain)
    ended = 0
    async with _client(port, seeded) as client:
        for job_id in job_ids:
            answer = await client.get(f"{job}{job_id}")
            ended += answer.status_code == 200 and answer.json()["status"] == "SUCCEED"
    return ended


def _client(port: int, seeded: SeededJobs) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"http://{LOOPBACK}:{port}",
        auth=(seeded.user, seeded.password),
        headers={"X-ID-TENANT-NAME": seeded.domain},
        timeout=30,
        trust_env=False,  # loopback only, whatever proxy the environment names
    )


def format_result(result: SoakResult, store: str, jobs: int) -> str:
    header = ("RSS", "MB", "vs 100 MB")
    rows: list[tuple[str, ...]] = [header]
    for label, value in (
        ("after start", result.started.rss),
        ("after warm-up", result.after_warmup),
        ("end of soak", result.end),
        ("peak", result.peak),
    ):
        rows.append((label, f"{value:.1f}", f"{value / TARGET_MB:.2f}"))
    rows.append(("drift (end - warm-up)", f"{result.drift:+.1f}", ""))
    rows.append(("trend, 2nd half", f"{result.slope_mb_per_minute:+.2f}/min", ""))
    clients, polls = result.clients, result.polls
    load = (
        f"load: {polls.requests:,} job polls ({polls.requests_per_second:,.0f}/s, "
        f"{polls.errors} errors), "
        if polls
        else "load: wrk failed, "
    )
    load += (
        f"{clients.filters:,} filters, {clients.submitted:,} creates "
        f"({result.ended_jobs:,} SUCCEEDed), {clients.errors} client errors; "
        f"{result.spikes} of {len(result.soak)} samples were spikes over 20 MB above the median"
    )
    soaked = result.soak[-1].seconds - result.warmup_seconds
    title = f"{store}, {jobs:,} jobs: RSS over a {soaked:.0f} s soak"
    return f"{title}\n{format_table(rows)}\n{load}"


def figures(
    result: SoakResult,
    store: str,
    jobs: int,
    options: argparse.Namespace,
    load: float,
) -> dict[str, object]:
    polls = result.polls
    return {
        "benchmark": "rss_soak",
        "store": store,
        "jobs": jobs,
        "soak_seconds": options.soak_seconds,
        "warmup_seconds": options.warmup_seconds,
        "target_mb": TARGET_MB,
        "load_average_at_start": load,
        "rss_mb": {
            "after_start": result.started.rss,
            "after_warmup": result.after_warmup,
            "end": result.end,
            "peak": result.peak,
            "drift_end_minus_warmup": result.drift,
            "trend_mb_per_minute_second_half": result.slope_mb_per_minute,
            "end_ratio_to_target": result.end / TARGET_MB,
            "peak_ratio_to_target": result.peak / TARGET_MB,
            "spike_samples": result.spikes,
        },
        "samples": [
            {
                "seconds": s.seconds,
                "rss_mb": s.memory.rss,
                "anon_mb": s.memory.anon,
                "file_mb": s.memory.file,
                "processes": s.memory.processes,
            }
            for s in result.samples
        ],
        "load": {
            "poll_rate_cap": options.poll_rate,
            "job_polls": polls.requests if polls else None,
            "job_polls_per_second": polls.requests_per_second if polls else None,
            "job_poll_errors": polls.errors if polls else None,
            "job_poll_p99_ms": polls.latency_ms["99"] if polls else None,
            "filters": result.clients.filters,
            "creates": result.clients.submitted,
            "creates_succeeded": result.ended_jobs,
            "client_errors": result.clients.errors,
        },
    }


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # the server was stopped on the way out
        sys.exit(main())
    sys.exit(130)
