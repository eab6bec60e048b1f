"""Benchmark the engine: jobs completed per second by 1, 2 and 4 worker processes, per store.

For each store and worker count, one API process (`serve --no-worker`) and N `activitylog worker`
processes share a fresh database; M no-op demo creates go in over HTTP, and the script reports
jobs per second (first submission to last end) and the delay from each submission to its claim.

    .venv/bin/python bench/engine_throughput.py [--operations M] [--workers 1,2,4]
        [--stores sqlite,postgresql] [--postgres URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import importlib.util
import json
import math
import os
import secrets
import signal
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import asyncpg
import httpx

from activitylog.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USER
from activitylog.domain.dates import parse_filter_date
from activitylog.domain.jobs import STARTED_MESSAGE, SUBMITTED_MESSAGE
from process_cpu import CpuMeter
from servers import ServerFailed, activitylog_process, free_port

CREATE_PATH = f"/paas/api/v1.1/instancemgmt/{DEMO_DOMAIN}/services/caching/instances"
FILTER_PATH = f"/paas/api/v1.1/activitylog/{DEMO_DOMAIN}/filter"
AUTH = (DEMO_USER, DEMO_PASSWORD)
MESSAGES_PER_JOB = 8
"""Submitted, Started, the five steps of a demo `caching` create, Ended."""
PAGE_SIZE = 1000  # the filter's largest page
POLL_SECONDS = 0.2
SUBMIT_ATTEMPTS = 20
LOOPBACK_HOSTS = ("127.0.0.1",)
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REST_WARNING_PERCENT = 50.0
PERCENTILES = {"p50": 0.50, "p90": 0.90, "p99": 0.99}
_EMBEDDED = 0


class BenchmarkFailed(RuntimeError):
    """A submission was refused for good, or the set-up could not be built."""


@dataclasses.dataclass(frozen=True, slots=True)
class Setup:
    """One configuration to measure."""

    store: str
    """"sqlite" or "postgresql"."""
    workers: int
    """Worker processes; 0 (_EMBEDDED) is `serve` with its in-process worker and no others."""

    @property
    def label(self) -> str:
        return "embedded" if self.workers == _EMBEDDED else str(self.workers)


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    """What happened between the first submission and the moment every job had ended."""

    submitted_at: float
    """Epoch seconds, just before the first request."""
    last_accepted_at: float
    """Epoch seconds, when the last 202 arrived."""
    retries: int
    """Submissions answered 503 (or not at all) and sent again."""
    cpu_percent: dict[str, float]
    """Role to CPU time over the window, in % of one core."""
    jobs: list[dict[str, Any]]
    timed_out: bool


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    setup: Setup
    operations: int
    succeeded: int
    seconds: float
    """From the first submission to the last job's end (its endDate)."""
    submit_seconds: float
    retries: int
    claim_ms: dict[str, float]
    cpu_percent: dict[str, float]
    problems: tuple[str, ...]

    @property
    def jobs_per_second(self) -> float:
        return self.succeeded / self.seconds if self.seconds > 0 else 0.0

    @property
    def submissions_per_second(self) -> float:
        return self.operations / self.submit_seconds if self.submit_seconds > 0 else 0.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--operations", type=_positive, default=2000, help="jobs per configuration (2000)"
    )
    parser.add_argument(
        "--workers", type=_counts, default=(1, 2, 4), help="worker processes (default 1,2,4)"
    )
    parser.add_argument(
        "--stores",
        type=_stores,
        default=("sqlite", "postgresql"),
        help="sqlite, postgresql or both (default both)",
    )
    parser.add_argument(
        "--postgres",
        default=DEFAULT_POSTGRES,
        help="admin URL on 127.0.0.1 used to create and drop a fresh database per run "
        f"(default {DEFAULT_POSTGRES})",
    )
    parser.add_argument("--slots", type=_positive, default=8, help="--concurrency per worker (8)")
    parser.add_argument("--in-flight", type=_positive, default=32, help="submissions at once (32)")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the jobs (300)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args(argv)
    if "postgresql" in options.stores:
        _require_loopback(parser, options.postgres)
    return options


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a whole number above 0")
    return value


def _counts(text: str) -> tuple[int, ...]:
    counts = tuple(int(part) for part in text.split(",") if part.strip())
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("expected worker counts like 1,2,4")
    return counts


def _stores(text: str) -> tuple[str, ...]:
    stores = tuple(part.strip() for part in text.split(",") if part.strip())
    if not stores or not set(stores) <= {"sqlite", "postgresql"}:
        raise argparse.ArgumentTypeError("expected sqlite, postgresql or sqlite,postgresql")
    return stores


def _require_loopback(parser: argparse.ArgumentParser, url: str) -> None:
    if urllib.parse.urlsplit(url).hostname not in LOOPBACK_HOSTS:
        parser.error(f"--postgres must point at 127.0.0.1, not {url!r}")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    fail_missing_sniffio_fast()
    signal.signal(signal.SIGTERM, _exit_on_signal)  # unwind: stop the processes, drop the db
    if "postgresql" in options.stores:
        asyncio.run(_check_postgres(options.postgres))
    load_average = warn_if_busy()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="activitylog-bench-") as directory:
        for setup in plan(options):
            results.append(run_setup(setup, options, Path(directory)))
            print(f"  {_progress(results[-1])}", file=sys.stderr)
    print(format_results(results))
    print()
    print(format_cpu(results))
    warn_if_disturbed(results)
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(figures(results, options, load_average), indent=2)
        options.json.write_text(text + "\n")
    return report_problems(results)


def fail_missing_sniffio_fast() -> None:
    """Make `import sniffio` fail at once when sniffio is not installed.

    httpcore 1.0.9 imports it on every request and, since anyio 4.11 no longer brings it, pays
    a failed search of sys.path each time, a quarter of the client's CPU (encode/httpcore#1103).
    None in sys.modules is Python's own way to say "this module is absent".
    """
    if importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def plan(options: argparse.Namespace) -> list[Setup]:
    """The embedded reference first, then every store with every worker count."""
    embedded = [Setup("sqlite", _EMBEDDED)]
    return embedded + [Setup(store, n) for store in options.stores for n in options.workers]


def warn_if_busy() -> float:
    """The one-minute load average; say so when other work competes for the CPUs."""
    load_average = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    if load_average > cpus / 2:
        print(
            f"note: load average {load_average:.1f} on {cpus} CPUs: other work competes with "
            "the benchmark's processes, so the figures will be noisy",
            file=sys.stderr,
        )
    return load_average


# -- one configuration ----------------------------------------------------------------------


def run_setup(setup: Setup, options: argparse.Namespace, work: Path) -> Result:
    """Start the processes on a fresh database, measure, stop them, and drop the database."""
    name = f"{setup.store}-{setup.label}"
    print(f"{setup.store}, workers {setup.label}: starting", file=sys.stderr)
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(fresh_database(setup.store, options.postgres, work / name))
        roles: dict[int, str] = {}
        api = stack.enter_context(start_api(setup, db, options.slots, work / name, roles))
        for index in range(setup.workers):
            port = free_port()
            roles[port] = "worker"
            worker = ["--db", db, "--demo-step-delay", "0", "--concurrency", str(options.slots)]
            log = work / f"{name}-worker{index}.log"
            stack.enter_context(activitylog_process("worker", worker, port, log))
        meter = CpuMeter(roles, _database_name(db))
        window = asyncio.run(measure(api, options, meter))
    return analyse(setup, options.operations, window)


@contextlib.contextmanager
def fresh_database(store: str, admin_url: str, stem: Path) -> Iterator[str]:
    """A new SQLite file, or a new PostgreSQL database dropped on the way out."""
    if store == "sqlite":
        yield str(stem.with_suffix(".db"))
        return
    name = f"activitylog_bench_{secrets.token_hex(4)}"
    asyncio.run(_admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield urllib.parse.urlsplit(admin_url)._replace(path=f"/{name}").geturl()
    finally:
        # FORCE: a process that did not stop in time must not keep the database alive.
        asyncio.run(_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def start_api(
    setup: Setup, db: str, slots: int, stem: Path, roles: dict[int, str]
) -> Iterator[str]:
    """`serve --demo`, without its worker unless this is the embedded reference."""
    arguments = ["--db", db, "--demo"]
    if setup.workers == _EMBEDDED:
        arguments += ["--demo-step-delay", "0", "--concurrency", str(slots)]
    else:
        arguments += ["--no-worker"]
    port = free_port()
    roles[port] = "api"
    with activitylog_process("serve", arguments, port, stem.with_suffix(".log")) as base:
        yield base


async def _admin(admin_url: str, statement: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _check_postgres(admin_url: str) -> None:
    try:
        await _admin(admin_url, "SELECT 1")
    except (OSError, asyncpg.PostgresError) as exc:
        raise SystemExit(
            f"PostgreSQL at {admin_url} is not reachable ({exc}); start it, or pass --stores sqlite"
        ) from exc


def _database_name(db: str) -> str | None:
    if not db.startswith("postgresql://"):
        return None
    return urllib.parse.urlsplit(db).path.lstrip("/")


# -- the measured window ----------------------------------------------------------------------


async def measure(api: str, options: argparse.Namespace, meter: CpuMeter) -> Window:
    """Submit every operation, wait for every job to end, then read them all back."""
    in_flight = min(options.in_flight, options.operations)
    async with contextlib.AsyncExitStack() as stack:
        # One client per request in flight, each with one connection: httpcore's pool scans
        # all its connections for every request, which made one shared 32-connection client
        # cost ~3x the CPU and the load generator the bottleneck.
        clients = [await stack.enter_async_context(_client(api)) for _ in range(in_flight)]
        reader = clients[0]
        # One request first: the argon2 check of the password is then cached (60 s), as in
        # any steady state, instead of 32 first requests each paying ~180 ms of CPU for it.
        await count_jobs(reader, "SUCCEED")
        meter.start()
        submitted_at = time.time()
        retries = await submit_all(clients, options.operations)
        last_accepted_at = time.time()
        timed_out = not await wait_until_ended(reader, options.operations, options.timeout)
        cpu_percent = meter.stop()
        jobs = await fetch_all_jobs(reader)
    return Window(submitted_at, last_accepted_at, retries, cpu_percent, jobs, timed_out)


def _client(api: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=api,
        auth=AUTH,
        timeout=60,
        trust_env=False,  # loopback only, whatever proxy the environment names
        limits=httpx.Limits(max_connections=1),
    )


async def submit_all(clients: list[httpx.AsyncClient], operations: int) -> int:
    """Create ``operations`` caches with unique names, one request in flight per client;
    how many submissions had to be sent again."""
    indexes = iter(range(operations))
    retries = 0

    async def submitter(client: httpx.AsyncClient) -> None:
        nonlocal retries
        for index in indexes:  # shared: each index is taken by one submitter only
            retries += await submit_one(client, f"bench{index:06d}")

    async with asyncio.TaskGroup() as group:
        for client in clients:
            group.create_task(submitter(client))
    return retries


async def submit_one(client: httpx.AsyncClient, name: str) -> int:
    """POST one create until it is accepted; how many times it was sent again."""
    body = {"serviceParameters": {"serviceName": name, "size": "1"}}
    for attempt in range(SUBMIT_ATTEMPTS):
        try:
            answer = await client.post(CREATE_PATH, json=body)
        except httpx.TransportError:
            await asyncio.sleep(0.1)
            continue
        if answer.status_code == 202:
            return attempt
        if answer.status_code != 503:
            raise BenchmarkFailed(f"create {name}: {answer.status_code} {answer.text[:300]}")
        await asyncio.sleep(min(float(answer.headers.get("Retry-After", "0.1")), 1.0))
    raise BenchmarkFailed(f"create {name}: not accepted after {SUBMIT_ATTEMPTS} attempts")


async def wait_until_ended(client: httpx.AsyncClient, operations: int, timeout: float) -> bool:
    """Poll until every job has SUCCEEDed (True), one has ended otherwise, or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await count_jobs(client, "SUCCEED") >= operations:
            return True
        if await count_jobs(client, "FAILED,WARN") > 0:
            return True  # no point waiting: the verification reports it
        # Another process changes the jobs: no local event could tell us sooner.
        await asyncio.sleep(POLL_SECONDS)
    return False


async def count_jobs(client: httpx.AsyncClient, statuses: str) -> int:
    answer = await client.get(FILTER_PATH, params={"status": statuses, "limit": 0})
    answer.raise_for_status()
    return int(answer.json()["totalCount"])


async def fetch_all_jobs(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    while True:
        params: dict[str, str | int] = {
            "limit": PAGE_SIZE,
            "offset": len(jobs),
            "orderBy": "jobId:asc",
        }
        answer = await client.get(FILTER_PATH, params=params)
        answer.raise_for_status()
        page: list[dict[str, Any]] = answer.json()["activityLogs"]
        jobs.extend(page)
        if len(page) < PAGE_SIZE:
            return jobs


# -- figures ----------------------------------------------------------------------------------


def analyse(setup: Setup, operations: int, window: Window) -> Result:
    """Check every job, and turn its timestamps into the run's figures."""
    jobs, problems = window.jobs, check_jobs(window.jobs, operations)
    if window.timed_out:
        problems.insert(0, "timed out: not every job had ended")
    succeeded = [job for job in jobs if job["status"] == "SUCCEED"]
    ends = [_epoch_ms(job["endDate"]) for job in succeeded]
    seconds = (max(ends) / 1000 - window.submitted_at) if ends else 0.0
    delays = sorted(claim_delay_ms(job) for job in jobs if _started_once(job))
    return Result(
        setup=setup,
        operations=operations,
        succeeded=len(succeeded),
        seconds=seconds,
        submit_seconds=window.last_accepted_at - window.submitted_at,
        retries=window.retries,
        claim_ms={name: percentile(delays, q) for name, q in PERCENTILES.items()},
        cpu_percent=window.cpu_percent,
        problems=tuple(problems),
    )


def check_jobs(jobs: list[dict[str, Any]], operations: int) -> list[str]:
    """What is wrong with the jobs: every one should have SUCCEEDed, started once, 8 messages."""
    problems: list[str] = []
    if len(jobs) != operations:
        problems.append(f"{len(jobs)} jobs found, {operations} submitted")
    statuses = collections.Counter(str(job["status"]) for job in jobs)
    if set(statuses) - {"SUCCEED"}:
        problems.append(f"not every job SUCCEEDed: {dict(statuses)}")
    started = collections.Counter(_texts(job).count(STARTED_MESSAGE) for job in jobs)
    if set(started) - {1}:
        problems.append(f'"{STARTED_MESSAGE}" per job (count: jobs): {dict(started)}')
    sizes = collections.Counter(len(job["messages"]) for job in jobs)
    if set(sizes) - {MESSAGES_PER_JOB}:
        problems.append(f"messages per job (count: jobs): {dict(sizes)}")
    return problems


def claim_delay_ms(job: dict[str, Any]) -> float:
    """From the job's "Activity Submitted" message to its "Activity Started" one."""
    dates = {m["message"]: _epoch_ms(m["activityDate"]) for m in job["messages"]}
    return float(dates[STARTED_MESSAGE] - dates[SUBMITTED_MESSAGE])


def _started_once(job: dict[str, Any]) -> bool:
    texts = _texts(job)
    return texts.count(STARTED_MESSAGE) == 1 and SUBMITTED_MESSAGE in texts


def _texts(job: dict[str, Any]) -> list[str]:
    return [str(message["message"]) for message in job["messages"]]


def _epoch_ms(timestamp: str) -> int:
    return parse_filter_date(timestamp)


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least ``fraction`` of them at or below it."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def one_worker_rates(results: list[Result]) -> dict[str, float]:
    """Store to the jobs/s of its 1-worker run: the base of the ratios."""
    return {r.setup.store: r.jobs_per_second for r in results if r.setup.workers == 1}


def format_results(results: list[Result]) -> str:
    bases = one_worker_rates(results)
    header = ("store", "workers", "jobs/s", "vs 1 worker", "submits/s", "claim p50 ms", "p90 ms")
    rows: list[tuple[str, ...]] = [(*header, "p99 ms", "ok")]
    for r in results:
        base = bases.get(r.setup.store)
        rows.append(
            (
                r.setup.store,
                r.setup.label,
                f"{r.jobs_per_second:,.0f}",
                f"{r.jobs_per_second / base:.2f}x" if base else "-",
                f"{r.submissions_per_second:,.0f}",
                *(f"{r.claim_ms[name]:,.0f}" for name in PERCENTILES),
                "ERROR" if r.problems else "yes",
            )
        )
    return _table(rows)


def format_cpu(results: list[Result]) -> str:
    """Where the CPU went over each measured window, in % of one core."""
    header = ("store", "workers", "api %", "workers %", "busiest worker %", "postgres %")
    rows: list[tuple[str, ...]] = [(*header, "client %", "rest %")]
    for r in results:
        cpu = r.cpu_percent
        has_workers, on_postgres = r.setup.workers != _EMBEDDED, r.setup.store == "postgresql"
        rows.append(
            (
                r.setup.store,
                r.setup.label,
                f"{cpu.get('api', 0.0):.0f}",
                f"{cpu.get('worker', 0.0):.0f}" if has_workers else "-",
                f"{cpu.get('busiest worker', 0.0):.0f}" if has_workers else "-",
                f"{cpu.get('postgres', 0.0):.0f}" if on_postgres else "-",
                f"{cpu.get('client', 0.0):.0f}",
                f"{cpu.get('rest', 0.0):.0f}",
            )
        )
    cpus = os.cpu_count() or 1
    return f"CPU over each measured window, % of one core ({cpus} cores = {100 * cpus}):\n" + (
        _table(rows)
    )


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if column < 2 else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


def _progress(result: Result) -> str:
    return (
        f"{result.succeeded} of {result.operations} jobs SUCCEED in {result.seconds:.1f} s: "
        f"{result.jobs_per_second:,.0f} jobs/s"
    )


def warn_if_disturbed(results: list[Result]) -> None:
    """Name the runs during which other work took a large share of the machine."""
    for r in results:
        rest = r.cpu_percent.get("rest", 0.0)
        if rest >= REST_WARNING_PERCENT:
            print(
                f"note: {r.setup.store}, workers {r.setup.label}: {rest:.0f} % of a core went "
                "to other work (the kernel, other processes), so that row is noisy",
                file=sys.stderr,
            )


def report_problems(results: list[Result]) -> int:
    """Say loudly what went wrong; the exit status (1 when anything did)."""
    failed = [r for r in results if r.problems]
    for r in failed:
        for problem in r.problems:
            print(
                f"ERROR: {r.setup.store}, workers {r.setup.label}: {problem}",
                file=sys.stderr,
            )
    return 1 if failed else 0


def figures(
    results: list[Result], options: argparse.Namespace, load_average: float
) -> dict[str, object]:
    bases = one_worker_rates(results)
    return {
        "benchmark": "engine_throughput",
        "operations": options.operations,
        "worker_slots": options.slots,
        "in_flight": options.in_flight,
        "cpus": os.cpu_count(),
        "load_average_at_start": load_average,
        "results": [
            {
                "store": r.setup.store,
                "embedded": r.setup.workers == _EMBEDDED,
                "worker_processes": r.setup.workers,
                "jobs_succeeded": r.succeeded,
                "seconds": r.seconds,
                "jobs_per_second": r.jobs_per_second,
                "ratio_to_one_worker": (
                    r.jobs_per_second / bases[r.setup.store] if bases.get(r.setup.store) else None
                ),
                "submissions_per_second": r.submissions_per_second,
                "submission_retries": r.retries,
                "submit_to_claim_ms": r.claim_ms,
                "cpu_percent_of_one_core": r.cpu_percent,
                "problems": list(r.problems),
            }
            for r in results
        ],
    }


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    # Either way, the processes were stopped and the database dropped on the way out.
    try:
        sys.exit(main())
    except (BenchmarkFailed, ServerFailed) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
