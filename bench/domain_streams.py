"""Benchmark what idle domain event streams cost everyone else: job GETs and job submissions.

One viewer holds --streams domain event streams (`GET .../activitylog/{domain}/events`) open on
one `activitylog serve` (SQLite, in-process worker, the demo `caching` type with short steps),
while joe submits --jobs caches, one every --interval-ms, in the demo domain: each job is
submitted, claimed, writes its steps and ends, every step a change. Measured, with the streams
and, in the same run, without any: the server's CPU per submission (the job's whole life, no
GETs meanwhile), then the median and p99 of a job GET made while submissions go on. By default
the viewer is in another identity domain (its streams should cost nothing at all);
--same-domain puts it in the demo domain, with a filter no job matches (each change is then
read, and checked against every stream's filter, once).

    .venv/bin/python bench/domain_streams.py [--streams 2000] [--jobs 40] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from activitylog.client import paths
from activitylog.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USER
from activitylog.passwords import password_hasher
from activitylog.store.base import open_store
from loopback_http import Connection
from process_cpu import cpu_seconds, descendants, port_argument
from report import format_table, load_average, percentile, write_json
from seeding import auth_headers
from servers import LOOPBACK, activitylog_process, bench_environment, free_port

VIEWER_DOMAIN = "ViewerIdentityDomain"
VIEWER = "vic@example.com"
VIEWER_PASSWORD = "vicPassword"  # noqa: S105 - the benchmark's own throwaway viewer
CONNECT_AT_ONCE = 50
# Caps on open streams (where the server has them) raised for the benchmark; an older server
# ignores variables it does not know.
NO_CAPS = {
    "ACTIVITYLOG_MAX_STREAMS_PER_USER": "0",
    "ACTIVITYLOG_MAX_STREAMS_PER_ADDRESS": "0",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    streams: int
    jobs: int
    interval: float
    same_domain: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Run:
    streams: int
    cpu_ms_per_submission: float
    get_ms: list[float]
    submissions_per_second: float


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--streams", type=int, default=2000, help="streams held (default 2000)")
    parser.add_argument("--jobs", type=int, default=40, help="jobs per phase (default 40)")
    parser.add_argument(
        "--interval-ms", type=float, default=100.0, help="between submissions (default 100)"
    )
    parser.add_argument("--same-domain", action="store_true", help="the viewer in the jobs' domain")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # unwind, so the servers are stopped
    plan = Plan(options.streams, options.jobs, options.interval_ms / 1000, options.same_domain)
    raise_open_file_limit(2 * plan.streams + 256)
    load_at_start = load_average()
    runs = [asyncio.run(measure(plan, streams)) for streams in (0, plan.streams)]
    print(format_results(runs, plan))
    write_json(
        options.json,
        {
            "plan": dataclasses.asdict(plan),
            "load_average": [load_at_start, load_average(warn=False)],
            "runs": [summary(run) for run in runs],
        },
    )
    return 0


def raise_open_file_limit(wanted: int) -> None:
    """Each stream is a socket here and one in the server (which inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))


async def measure(plan: Plan, streams: int) -> Run:
    with tempfile.TemporaryDirectory(prefix="activitylog-bench-") as directory:
        db = Path(directory) / "activitylog.db"
        await create_tenants(str(db), plan.same_domain)
        port = free_port()
        arguments = ["--db", str(db), "--demo-step-delay", "0.01", "--concurrency", "4"]
        env = {**bench_environment(), **NO_CAPS}
        with activitylog_process("serve", arguments, port, Path(directory) / "serve.log", env):
            server = server_pid(port)
            joe = await Connection.open(LOOPBACK, port, auth_headers(*DEMO_AUTH))
            async with held_streams(port, streams, plan.same_domain) as held:
                await submit_jobs(joe, 3, plan.interval, "Warm")  # and the credential cache
                before = server_cpu(server)
                started = time.monotonic()
                last = await submit_jobs(joe, plan.jobs, plan.interval, "Cpu")
                await wait_until_ended(joe, last)
                cpu = server_cpu(server) - before
                rate = plan.jobs / (time.monotonic() - started)
                get_ms = await gets_while_submitting(joe, port, plan)
                assert held.open == streams, f"{held.open} of {streams} streams still open"
            await joe.close()
    return Run(streams, 1000 * cpu / plan.jobs, get_ms, rate)


DEMO_AUTH = (DEMO_USER, DEMO_PASSWORD, DEMO_DOMAIN)


async def create_tenants(db: str, same_domain: bool) -> None:
    """The demo domain and joe, as `serve --demo` makes them, and the viewer."""
    store = open_store(db)
    await store.open()
    try:
        await store.create_domain(DEMO_DOMAIN)
        hasher = password_hasher()
        await store.create_user(DEMO_DOMAIN, DEMO_USER, hasher.hash(DEMO_PASSWORD), "admin")
        viewer_domain = DEMO_DOMAIN if same_domain else VIEWER_DOMAIN
        if not same_domain:
            await store.create_domain(VIEWER_DOMAIN)
        await store.create_user(viewer_domain, VIEWER, hasher.hash(VIEWER_PASSWORD), "viewer")
    finally:
        await store.close()


@dataclasses.dataclass
class HeldStreams:
    wanted: int
    open: int = 0
    all_open: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


@contextlib.asynccontextmanager
async def held_streams(port: int, count: int, same_domain: bool) -> AsyncIterator[HeldStreams]:
    """``count`` domain streams of the viewer, each read to its end by a task of its own."""
    domain = DEMO_DOMAIN if same_domain else VIEWER_DOMAIN
    path = paths.expand(paths.DOMAIN_EVENTS, domain=domain)
    if same_domain:
        path += "?serviceType=nothing-matches"
    held = HeldStreams(count)
    readers: list[asyncio.Task[None]] = []
    connections: list[Connection] = []
    for start in range(0, count, CONNECT_AT_ONCE):
        batch = range(start, min(count, start + CONNECT_AT_ONCE))
        opened = await asyncio.gather(*(open_stream(port, domain, path) for _ in batch))
        connections += opened
        readers += [asyncio.create_task(read_to_end(c, held)) for c in opened]
    if count:
        await held.all_open.wait()  # every stream answered
    try:
        yield held
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in connections))


async def open_stream(port: int, domain: str, path: str) -> Connection:
    connection = await Connection.open(
        LOOPBACK, port, auth_headers(VIEWER, VIEWER_PASSWORD, domain)
    )
    await connection.send_get(path)
    return connection


async def read_to_end(connection: Connection, held: HeldStreams) -> None:
    status, headers = await connection.read_head()
    if status != 200:
        raise RuntimeError(f"a domain stream was answered {status}")
    held.open += 1
    if held.open == held.wanted:
        held.all_open.set()
    try:
        async for _line, _arrived in connection.lines(headers):
            pass
    finally:
        held.open -= 1


async def submit_jobs(
    joe: Connection, count: int, interval: float, prefix: str, paths_to: list[str] | None = None
) -> str:
    """Submit ``count`` caches, one per ``interval``; the path of the last one's job (and of
    each, appended to ``paths_to``)."""
    url = paths.instances_path(DEMO_DOMAIN, "caching")
    location = ""
    for index in range(count):
        due = time.monotonic() + interval
        body = b'{"serviceParameters":{"serviceName":"%s%05d"}}' % (prefix.encode(), index)
        answer = await joe.post(url, body, {"Content-Type": "application/json"})
        if answer.status != 202:
            raise RuntimeError(f"submission answered {answer.status}: {answer.body[:200]!r}")
        location = paths.job_path(DEMO_DOMAIN, int(json.loads(answer.body)["details"]["jobId"]))
        if paths_to is not None:
            paths_to.append(location)
        await asyncio.sleep(max(0.0, due - time.monotonic()))
    return location


async def wait_until_ended(joe: Connection, job_path: str) -> None:
    # Polls the server: there is nothing in this process to wait on.
    while b'"status":"SUCCEED"' not in (await joe.get(job_path)).body:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def gets_while_submitting(joe: Connection, port: int, plan: Plan) -> list[float]:
    """GET the latest job, one request at a time, while joe submits another --jobs."""
    latest = [await submit_jobs(joe, 1, 0, "First")]
    getter = await Connection.open(LOOPBACK, port, auth_headers(*DEMO_AUTH))

    submitting = asyncio.create_task(submit_jobs(joe, plan.jobs, plan.interval, "Get", latest))
    samples: list[float] = []
    while not submitting.done():
        sent = time.perf_counter()
        answer = await getter.get(latest[-1])
        samples.append(1000 * (time.perf_counter() - sent))
        if answer.status != 200:
            raise RuntimeError(f"job GET answered {answer.status}")
        await asyncio.sleep(0.005)
    await submitting
    await getter.close()
    await wait_until_ended(joe, latest[-1])
    return samples


def server_pid(port: int) -> int:
    for pid in descendants(os.getpid()):
        command = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        if port_argument(command) == port:
            return pid
    raise RuntimeError(f"no server process with --port {port}")


def server_cpu(pid: int) -> float:
    """CPU seconds of the server and of any process it started."""
    return sum(cpu_seconds(p) or 0.0 for p in [pid, *descendants(pid)])


def summary(run: Run) -> dict[str, Any]:
    return {
        "streams": run.streams,
        "cpu_ms_per_submission": run.cpu_ms_per_submission,
        "submissions_per_second": run.submissions_per_second,
        "get_p50_ms": percentile(run.get_ms, 0.5),
        "get_p99_ms": percentile(run.get_ms, 0.99),
        "gets": len(run.get_ms),
    }


def format_results(runs: list[Run], plan: Plan) -> str:
    without, held = (summary(run) for run in runs)
    where = "the jobs' domain, matching none" if plan.same_domain else "another domain"
    rows = [["measure", "no streams", f"{plan.streams:,} streams", "ratio"]]
    for label, key in (
        ("job GET p50 ms", "get_p50_ms"),
        ("job GET p99 ms", "get_p99_ms"),
        ("server CPU per submission, ms", "cpu_ms_per_submission"),
        ("submissions/s reached", "submissions_per_second"),
    ):
        ratio = held[key] / without[key] if without[key] else float("nan")
        rows.append([label, f"{without[key]:.2f}", f"{held[key]:.2f}", f"{ratio:.2f}x"])
    rows.append(["job GETs sampled", str(without["gets"]), str(held["gets"]), ""])
    header = f"{plan.streams:,} domain streams of one viewer in {where}; {plan.jobs} jobs a phase"
    return header + "\n" + format_table(rows)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
