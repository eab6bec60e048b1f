"""Benchmark the engine: jobs completed per second by 1, 2 and 4 worker processes, per store,
and by one worker process against other job queues (Celery, procrastinate).

For each store, worker count and submission concurrency, one API process (`serve --no-worker`)
and N `activitylog worker` processes share a fresh database; M creates go in over HTTP, each a
no-op job (or a demo `caching` create, `--work demo`), and the script reports jobs per second
(first submission to last end) and the delay from each submission to its claim. Then each peer
runs the same no-op work with one producer and one worker process (bench/peers/).

    .venv/bin/python bench/engine_throughput.py [--operations M] [--workers 1,2,4]
        [--stores sqlite,postgresql] [--in-flight 32,1] [--work noop|demo]
        [--peers celery,procrastinate|none] [--postgres URL] [--redis URL] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import dataclasses
import importlib.util
import json
import math
import os
import secrets
import signal
import socket
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

from activitylog.client._api import NO_DELAY
from activitylog.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USER
from activitylog.domain.dates import parse_filter_date
from activitylog.domain.jobs import STARTED_MESSAGE, SUBMITTED_MESSAGE
from loopback_http import Connection, ProtocolError
from peers import PEERS, PeerFailed, PeerRun, PeerSettings, importable_peers
from peers.comparison import (
    EngineRow,
    comparison_figures,
    format_comparison,
    format_peers,
    table,
)
from process_cpu import CpuMeter
from servers import ServerFailed, activitylog_process, free_port

BENCH_DIR = Path(__file__).resolve().parent
FILTER_PATH = f"/paas/api/v1.1/activitylog/{DEMO_DOMAIN}/filter"
AUTH = (DEMO_USER, DEMO_PASSWORD)
HEADERS = {
    "Authorization": "Basic " + base64.b64encode(f"{DEMO_USER}:{DEMO_PASSWORD}".encode()).decode(),
    "X-ID-TENANT-NAME": DEMO_DOMAIN,
    "Content-Type": "application/json",
}
CONFIG = """\
[service_types.noop]
description = "bench/engine_throughput.py: returns at once"
handler = "python:noop_handlers:noop"
[service_types.noop.operations.CREATE_SERVICE]
"""
PAGE_SIZE = 1000  # the filter's largest page
POLL_SECONDS = 0.2
SUBMIT_ATTEMPTS = 20
LOOPBACK_HOSTS = ("127.0.0.1",)
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"
REST_WARNING_PERCENT = 50.0
PERCENTILES = {"p50": 0.50, "p90": 0.90, "p99": 0.99}
_EMBEDDED = 0


class BenchmarkFailed(RuntimeError):
    """A submission was refused for good, or the set-up could not be built."""


@dataclasses.dataclass(frozen=True, slots=True)
class Work:
    """What each job does: the service type its creates go to, and the messages it leaves."""

    service_type: str
    messages_per_job: int
    size: str | None
    """The create's `size` parameter, if its service type takes one."""

    @property
    def create_path(self) -> str:
        return f"/paas/api/v1.1/instancemgmt/{DEMO_DOMAIN}/services/{self.service_type}/instances"


WORKS = {
    # bench/noop_handlers.py: Submitted, Started, Ended.
    "noop": Work("noop", 3, None),
    # The built-in demo: Submitted, Started, the five steps of a `caching` create, Ended.
    "demo": Work("caching", 8, "1"),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Setup:
    """One configuration to measure."""

    store: str
    """"sqlite" or "postgresql"."""
    workers: int
    """Worker processes; 0 (_EMBEDDED) is `serve` with its in-process worker and no others."""
    in_flight: int
    """Submissions at once; 1 is one producer submitting one by one."""

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
    parser.add_argument(
        "--in-flight",
        type=_counts,
        default=(32, 1),
        help="submissions at once, one run per value (default 32,1; 1: one by one)",
    )
    parser.add_argument(
        "--work",
        choices=sorted(WORKS),
        default="noop",
        help="noop: a handler that returns at once (default); demo: the demo caching create",
    )
    parser.add_argument(
        "--peers",
        type=_peers,
        default=None,
        help="other job queues to measure: celery, procrastinate, both, or none "
        "(default: those installed)",
    )
    parser.add_argument(
        "--redis", default=DEFAULT_REDIS, help=f"Redis on 127.0.0.1 for Celery ({DEFAULT_REDIS})"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds to wait for the jobs (300)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    options = parser.parse_args(argv)
    options.peers_chosen = options.peers is not None
    if options.peers is None:
        options.peers = importable_peers()
    if "postgresql" in options.stores or "procrastinate" in options.peers:
        _require_loopback(parser, options.postgres)
    if "celery" in options.peers:
        _require_loopback(parser, options.redis)
    return options


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("expected a whole number above 0")
    return value


def _counts(text: str) -> tuple[int, ...]:
    counts = tuple(int(part) for part in text.split(",") if part.strip())
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("expected counts like 1,2,4")
    return counts


def _peers(text: str) -> tuple[str, ...]:
    if text.strip() == "none":
        return ()
    peers = tuple(part.strip() for part in text.split(",") if part.strip())
    if not peers or not set(peers) <= set(PEERS):
        raise argparse.ArgumentTypeError(f"expected none or some of {','.join(PEERS)}")
    return peers


def _stores(text: str) -> tuple[str, ...]:
    stores = tuple(part.strip() for part in text.split(",") if part.strip())
    if not stores or not set(stores) <= {"sqlite", "postgresql"}:
        raise argparse.ArgumentTypeError("expected sqlite, postgresql or sqlite,postgresql")
    return stores


def _require_loopback(parser: argparse.ArgumentParser, url: str) -> None:
    if urllib.parse.urlsplit(url).hostname not in LOOPBACK_HOSTS:
        parser.error(f"--postgres and --redis must point at 127.0.0.1, not {url!r}")


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    fail_missing_sniffio_fast()
    signal.signal(signal.SIGTERM, _exit_on_signal)  # unwind: stop the processes, drop the db
    if "postgresql" in options.stores or "procrastinate" in options.peers:
        asyncio.run(_check_postgres(options.postgres))
    check_redis(options)
    load_average = warn_if_busy()
    results: list[Result] = []
    peer_runs: list[PeerRun] = []
    with tempfile.TemporaryDirectory(prefix="activitylog-bench-") as directory:
        (Path(directory) / "activitylog.toml").write_text(CONFIG)
        for setup in plan(options):
            results.append(run_setup(setup, options, Path(directory)))
            print(f"  {_progress(results[-1])}", file=sys.stderr)
        for peer in options.peers:
            peer_runs.append(run_peer(peer, options, Path(directory)))
            print(f"  {_peer_progress(peer_runs[-1])}", file=sys.stderr)
    print(format_results(results))
    print()
    print(format_cpu(results))
    if options.peers:
        print()
        print(format_peers(peer_runs))
    # No-op peers against demo jobs compare unlike work: only when asked for.
    if one_worker_rows(results) and (peer_runs or options.work == "noop"):
        print()
        print(format_comparison(one_worker_rows(results), peer_runs, options.work))
    warn_if_disturbed(results)
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(figures(results, peer_runs, options, load_average), indent=2)
        options.json.write_text(text + "\n")
    return report_problems(results, peer_runs)


def fail_missing_sniffio_fast() -> None:
    """Make `import sniffio` fail at once when sniffio is not installed.

    httpcore 1.0.9 imports it on every request and, since anyio 4.11 no longer brings it, pays
    a failed search of sys.path each time, a quarter of the client's CPU (encode/httpcore#1103).
    None in sys.modules is Python's own way to say "this module is absent".
    """
    if importlib.util.find_spec("sniffio") is None:
        sys.modules["sniffio"] = None  # type: ignore[assignment]


def plan(options: argparse.Namespace) -> list[Setup]:
    """The embedded reference first, then every store with every worker count; each with
    every submission concurrency."""
    configurations = [("sqlite", _EMBEDDED)]
    configurations += [(store, n) for store in options.stores for n in options.workers]
    return [Setup(*c, in_flight) for c in configurations for in_flight in options.in_flight]


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
    name = f"{setup.store}-{setup.label}-{setup.in_flight}"
    print(f"{_name(setup)}: starting", file=sys.stderr)
    engine = [*work_arguments(options.work, work), "--concurrency", str(options.slots)]
    env = work_environment(options.work)
    with contextlib.ExitStack() as stack:
        db = stack.enter_context(fresh_database(setup.store, options.postgres, work / name))
        roles: dict[int, str] = {}
        api = stack.enter_context(start_api(setup, db, engine, env, work / name, roles))
        for index in range(setup.workers):
            port = free_port()
            roles[port] = "worker"
            log = work / f"{name}-worker{index}.log"
            stack.enter_context(
                activitylog_process("worker", ["--db", db, *engine], port, log, env)
            )
        meter = CpuMeter(roles, _database_name(db))
        window = asyncio.run(measure(api, setup, options, meter))
    return analyse(setup, options.operations, WORKS[options.work], window)


def work_arguments(work: str, directory: Path) -> list[str]:
    """What `serve` and `worker` need to run the work: the noop service type's configuration,
    or no delay between the demo's steps."""
    if work == "noop":
        return ["--config", str(directory / "activitylog.toml")]
    return ["--demo-step-delay", "0"]


def work_environment(work: str) -> dict[str, str] | None:
    """The noop handler is bench/noop_handlers.py: the servers import it from PYTHONPATH."""
    if work != "noop":
        return None
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": f"{BENCH_DIR}{os.pathsep}{path}" if path else str(BENCH_DIR)}


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
    setup: Setup,
    db: str,
    engine: list[str],
    env: dict[str, str] | None,
    stem: Path,
    roles: dict[int, str],
) -> Iterator[str]:
    """`serve --demo` (for the demo user), without its worker unless this is the embedded
    reference."""
    arguments = ["--db", db, "--demo", *engine]
    if setup.workers != _EMBEDDED:
        arguments += ["--no-worker"]
    port = free_port()
    roles[port] = "api"
    with activitylog_process("serve", arguments, port, stem.with_suffix(".log"), env) as base:
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
            f"PostgreSQL at {admin_url} is not reachable ({exc}); start it, or pass "
            "--stores sqlite and --peers celery or none"
        ) from exc


def check_redis(options: argparse.Namespace) -> None:
    """Celery needs Redis: fail when it was asked for, else leave it out with a note."""
    if "celery" not in options.peers:
        return
    url = urllib.parse.urlsplit(options.redis)
    try:
        with socket.create_connection((url.hostname, url.port or 6379), timeout=5) as sock:
            sock.sendall(b"PING\r\n")
            answered = sock.recv(64).startswith(b"+PONG")
    except OSError:
        answered = False
    if answered:
        return
    problem = f"Redis at {options.redis} does not answer"
    if options.peers_chosen:
        raise SystemExit(f"{problem}; start it, or leave celery out of --peers")
    print(f"note: {problem}, so Celery is not measured", file=sys.stderr)
    options.peers = tuple(peer for peer in options.peers if peer != "celery")


def run_peer(name: str, options: argparse.Namespace, work: Path) -> PeerRun:
    """One peer's no-op run, on a fresh database of its own when it keeps its jobs there."""
    print(f"{name}: starting", file=sys.stderr)
    peer = PEERS[name]
    with contextlib.ExitStack() as stack:
        database = ""
        if peer.broker == "postgresql":
            stem = work / name
            database = stack.enter_context(fresh_database("postgresql", options.postgres, stem))
        settings = PeerSettings(
            operations=options.operations,
            logs=work,
            redis_url=options.redis,
            database_url=database,
            timeout=options.timeout,
        )
        return peer.measure(settings)


def _database_name(db: str) -> str | None:
    if not db.startswith("postgresql://"):
        return None
    return urllib.parse.urlsplit(db).path.lstrip("/")


# -- the measured window ----------------------------------------------------------------------


async def measure(api: str, setup: Setup, options: argparse.Namespace, meter: CpuMeter) -> Window:
    """Submit every operation, wait for every job to end, then read them all back."""
    in_flight = min(setup.in_flight, options.operations)
    async with _client(api) as reader:
        # One request first: the argon2 check of the password is then cached (60 s), as in
        # any steady state, instead of 32 first requests each paying ~180 ms of CPU for it.
        await count_jobs(reader, "SUCCEED")
        meter.start()
        submitted_at = time.time()
        retries = await submit_all(api, in_flight, WORKS[options.work], options.operations)
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
        transport=httpx.AsyncHTTPTransport(socket_options=NO_DELAY),  # else 40 ms per POST
    )


async def submit_all(api: str, in_flight: int, work: Work, operations: int) -> int:
    """Create ``operations`` instances with unique names, ``in_flight`` connections each with
    one request at a time; how many submissions had to be sent again.

    The submitters speak HTTP/1.1 on bare asyncio streams (loopback_http.py): httpx spent
    ~0.5 ms of CPU per POST, so on 2 cores the load generator was using most of a core and
    limiting what it measured."""
    url = urllib.parse.urlsplit(api)
    indexes = iter(range(operations))
    retries = 0

    async def submitter() -> None:
        nonlocal retries
        submitter = Submitter(url.hostname or "", url.port or 0, work)
        try:
            for index in indexes:  # shared: each index is taken by one submitter only
                retries += await submitter.submit(f"bench{index:06d}")
        finally:
            await submitter.close()

    async with asyncio.TaskGroup() as group:
        for _ in range(in_flight):
            group.create_task(submitter())
    return retries


class Submitter:
    """One keep-alive connection posting creates, opened again when the server drops it."""

    def __init__(self, host: str, port: int, work: Work) -> None:
        self._host, self._port, self._work = host, port, work
        self._connection: Connection | None = None

    async def submit(self, name: str) -> int:
        """POST one create until it is accepted; how many times it was sent again."""
        parameters = {"serviceName": name} | ({"size": self._work.size} if self._work.size else {})
        body = json.dumps({"serviceParameters": parameters}).encode()
        for attempt in range(SUBMIT_ATTEMPTS):
            try:
                if self._connection is None:
                    self._connection = await Connection.open(self._host, self._port, HEADERS)
                answer = await self._connection.post(self._work.create_path, body)
            except (OSError, asyncio.IncompleteReadError, ProtocolError):
                await self.close()
                await asyncio.sleep(0.1)
                continue
            if answer.status == 202:
                return attempt
            if answer.status != 503:
                text = answer.body[:300].decode(errors="replace")
                raise BenchmarkFailed(f"create {name}: {answer.status} {text}")
            await asyncio.sleep(min(float(answer.headers.get("retry-after", "0.1")), 1.0))
        raise BenchmarkFailed(f"create {name}: not accepted after {SUBMIT_ATTEMPTS} attempts")

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()


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


def analyse(setup: Setup, operations: int, work: Work, window: Window) -> Result:
    """Check every job, and turn its timestamps into the run's figures."""
    jobs, problems = window.jobs, check_jobs(window.jobs, operations, work.messages_per_job)
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


def check_jobs(jobs: list[dict[str, Any]], operations: int, messages_per_job: int) -> list[str]:
    """What is wrong with the jobs: every one should have SUCCEEDed, started once, and left
    ``messages_per_job`` messages."""
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
    if set(sizes) - {messages_per_job}:
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


def one_worker_rates(results: list[Result]) -> dict[tuple[str, int], float]:
    """(store, in flight) to the jobs/s of its 1-worker run: the base of the ratios."""
    return {
        (r.setup.store, r.setup.in_flight): r.jobs_per_second
        for r in results
        if r.setup.workers == 1
    }


def _vs_one_worker(result: Result, bases: dict[tuple[str, int], float]) -> float | None:
    # The embedded row is divided by SQLite's 1-worker row.
    base = bases.get((result.setup.store, result.setup.in_flight))
    return result.jobs_per_second / base if base else None


def one_worker_rows(results: list[Result]) -> list[EngineRow]:
    """The runs with one worker process, to set against the peers."""
    return [
        EngineRow(r.setup.store, r.setup.in_flight, r.jobs_per_second, not r.problems)
        for r in results
        if r.setup.workers == 1
    ]


def format_results(results: list[Result]) -> str:
    bases = one_worker_rates(results)
    header = ("store", "workers", "in flight", "jobs/s", "vs 1 worker", "submits/s")
    rows: list[tuple[str, ...]] = [(*header, "claim p50 ms", "p90 ms", "p99 ms", "ok")]
    for r in results:
        ratio = _vs_one_worker(r, bases)
        rows.append(
            (
                r.setup.store,
                r.setup.label,
                str(r.setup.in_flight),
                f"{r.jobs_per_second:,.0f}",
                f"{ratio:.2f}x" if ratio else "-",
                f"{r.submissions_per_second:,.0f}",
                *(f"{r.claim_ms[name]:,.0f}" for name in PERCENTILES),
                "ERROR" if r.problems else "yes",
            )
        )
    return table(rows, left=2)


def format_cpu(results: list[Result]) -> str:
    """Where the CPU went over each measured window, in % of one core."""
    header = ("store", "workers", "in flight", "api %", "workers %", "busiest worker %")
    rows: list[tuple[str, ...]] = [(*header, "postgres %", "client %", "rest %")]
    for r in results:
        cpu = r.cpu_percent
        has_workers, on_postgres = r.setup.workers != _EMBEDDED, r.setup.store == "postgresql"
        rows.append(
            (
                r.setup.store,
                r.setup.label,
                str(r.setup.in_flight),
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
        table(rows, left=2)
    )


def _name(setup: Setup) -> str:
    return f"{setup.store}, workers {setup.label}, {setup.in_flight} in flight"


def _progress(result: Result) -> str:
    return (
        f"{result.succeeded} of {result.operations} jobs SUCCEED in {result.seconds:.1f} s: "
        f"{result.jobs_per_second:,.0f} jobs/s"
    )


def _peer_progress(run: PeerRun) -> str:
    return (
        f"{run.succeeded} of {run.operations} tasks completed in {run.seconds:.1f} s: "
        f"{run.jobs_per_second:,.0f} jobs/s"
    )


def warn_if_disturbed(results: list[Result]) -> None:
    """Name the runs during which other work took a large share of the machine."""
    for r in results:
        rest = r.cpu_percent.get("rest", 0.0)
        if rest >= REST_WARNING_PERCENT:
            print(
                f"note: {_name(r.setup)}: {rest:.0f} % of a core went to other work (the "
                "kernel, other processes), so that row is noisy",
                file=sys.stderr,
            )


def report_problems(results: list[Result], peer_runs: list[PeerRun]) -> int:
    """Say loudly what went wrong; the exit status (1 when anything did)."""
    failed = [(_name(r.setup), r.problems) for r in results if r.problems]
    failed += [(run.peer, run.problems) for run in peer_runs if run.problems]
    for name, problems in failed:
        for problem in problems:
            print(f"ERROR: {name}: {problem}", file=sys.stderr)
    return 1 if failed else 0


def figures(
    results: list[Result],
    peer_runs: list[PeerRun],
    options: argparse.Namespace,
    load_average: float,
) -> dict[str, object]:
    bases = one_worker_rates(results)
    return {
        "benchmark": "engine_throughput",
        "work": options.work,
        "messages_per_job": WORKS[options.work].messages_per_job,
        "operations": options.operations,
        "worker_slots": options.slots,
        "cpus": os.cpu_count(),
        "load_average_at_start": load_average,
        "results": [
            {
                "store": r.setup.store,
                "embedded": r.setup.workers == _EMBEDDED,
                "worker_processes": r.setup.workers,
                "in_flight": r.setup.in_flight,
                "jobs_succeeded": r.succeeded,
                "seconds": r.seconds,
                "jobs_per_second": r.jobs_per_second,
                "ratio_to_one_worker": _vs_one_worker(r, bases),
                "submissions_per_second": r.submissions_per_second,
                "submission_retries": r.retries,
                "submit_to_claim_ms": r.claim_ms,
                "cpu_percent_of_one_core": r.cpu_percent,
                "problems": list(r.problems),
            }
            for r in results
        ],
        **comparison_figures(one_worker_rows(results), peer_runs),
    }


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    # Either way, the processes were stopped and the database dropped on the way out.
    try:
        sys.exit(main())
    except (BenchmarkFailed, ServerFailed, PeerFailed) as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
