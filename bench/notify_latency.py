"""Benchmark how soon a job's change reaches the clients waiting on it, with 1,000 idle waiters.

A job appends a message every --interval-ms; one SSE stream and one long-poll (``?wait=30``)
follow it, and latency is the arrival of each message minus the moment its append committed
(the writer records it; same machine, same clock). Meanwhile --waiters idle clients wait on other
running jobs that never change: half long-polls (``?wait=60``), half job event streams. Two
deployments: (a) one `activitylog serve` on SQLite, writer and waiters in the same process;
(b) on a fresh PostgreSQL database, the clients on an API process (`serve --no-worker`) and the
writer in an `activitylog worker` process, so every change crosses LISTEN/NOTIFY.

    .venv/bin/python bench/notify_latency.py [--waiters 1000] [--changes 200] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import resource
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from activitylog.client import paths
from activitylog.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USER
from loopback_http import Connection
from report import format_table, load_average, percentile, write_json
from seeding import DEFAULT_POSTGRES, auth_headers, fresh_postgres_database, postgres_answers
from servers import LOOPBACK, activitylog_process, bench_environment, free_port

CONFIG = """\
[service_types.ticker]
description = "bench/notify_latency.py: a message every intervalMs, once told to start"
handler = "python:notify_handlers:tick"
[service_types.ticker.operations.CREATE_SERVICE]

[service_types.idle]
description = "bench/notify_latency.py: running, never changing"
handler = "python:notify_handlers:sit"
[service_types.idle.operations.CREATE_SERVICE]
"""
IDLE_POLL_SECONDS = 60
"""The longest ?wait the server takes: an idle long-poll is answered only after this."""
CONNECT_AT_ONCE = 50


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    waiters: int
    changes: int
    interval_ms: int
    idle_jobs: int


@dataclasses.dataclass(frozen=True, slots=True)
class Mode:
    name: str
    goal_p50_ms: float


SAME_PROCESS = Mode("same process, SQLite", 10.0)
CROSS_PROCESS = Mode("across processes, PostgreSQL", 25.0)


@dataclasses.dataclass(frozen=True, slots=True)
class Arrival:
    tick: int
    arrived_ns: int
    asked_ns: int | None = None
    """For a long-poll: when the request that brought it was sent."""


@dataclasses.dataclass(frozen=True, slots=True)
class ClientFigures:
    client: str
    latencies_ms: list[float]
    excluded: int
    """Changes made before the long-poll that brought them was sent: no wait, no wake-up."""
    missing: int

    def percentile(self, p: float) -> float:
        return percentile(self.latencies_ms, p / 100)


@dataclasses.dataclass(frozen=True, slots=True)
class IdleFigures:
    connected: int
    still_waiting: int
    """Idle waiters still connected at the end, without having been answered."""
    woken: int
    """Answers or events the idle waiters got: 0, since their jobs never changed."""


@dataclasses.dataclass(frozen=True, slots=True)
class ModeFigures:
    mode: Mode
    clients: list[ClientFigures]
    write_ms: list[float]
    """How long each append took, from the writer's call to its commit."""
    idle: IdleFigures


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--waiters", type=int, default=1000, help="idle waiters (default 1000)")
    parser.add_argument("--changes", type=int, default=200, help="changes timed (default 200)")
    parser.add_argument(
        "--interval-ms", type=int, default=50, help="between two changes (default 50)"
    )
    parser.add_argument(
        "--idle-jobs", type=int, default=20, help="running jobs the idle wait on (default 20)"
    )
    parser.add_argument(
        "--postgres", default=DEFAULT_POSTGRES, help=f"admin URL (default {DEFAULT_POSTGRES})"
    )
    parser.add_argument("--skip-postgres", action="store_true", help="measure (a) only")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # unwind, so the servers are stopped
    raise_open_file_limit(options.waiters * 2 + 1024)
    plan = Plan(options.waiters, options.changes, options.interval_ms, options.idle_jobs)
    load_at_start = load_average()
    results: list[ModeFigures] = []
    with tempfile.TemporaryDirectory(prefix="activitylog-notify-") as directory:
        work = Path(directory)
        (work / "activitylog.toml").write_text(CONFIG)
        results.append(run_mode(SAME_PROCESS, same_process_sqlite(work, plan), work, plan))
        if options.skip_postgres:
            pass
        elif postgres_answers(options.postgres):
            deployment = cross_process_postgres(work, plan, options.postgres)
            results.append(run_mode(CROSS_PROCESS, deployment, work, plan))
        else:
            print(f"note: no PostgreSQL at {options.postgres}; skipping (b)", file=sys.stderr)
    print(format_results(results, plan))
    write_json(options.json, figures(results, plan, load_at_start))
    return 0


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def raise_open_file_limit(wanted: int) -> None:
    """Each waiter is a socket here and one in the server (which inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
    if ceiling < wanted:
        print(f"note: open files limited to {ceiling}; waiters may fail", file=sys.stderr)


# -- deployments ------------------------------------------------------------------------------


@contextlib.contextmanager
def same_process_sqlite(work: Path, plan: Plan) -> Iterator[str]:
    """One `serve` with its worker: the API base URL."""
    arguments = ["--db", str(work / "same-process.db"), "--config", str(work / "activitylog.toml")]
    arguments += ["--demo", "--concurrency", str(plan.idle_jobs + 2)]
    log = work / "same-process-serve.log"
    with activitylog_process("serve", arguments, free_port(), log, bench_environment()) as api:
        yield api


@contextlib.contextmanager
def cross_process_postgres(work: Path, plan: Plan, admin_url: str) -> Iterator[str]:
    """A `serve --no-worker` for the clients and a `worker` for the writes: the API's URL."""
    config = ["--config", str(work / "activitylog.toml")]
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_postgres_database(admin_url))
        api = stack.enter_context(
            activitylog_process(
                "serve",
                ["--db", url, "--no-worker", "--demo", *config],
                free_port(),
                work / "cross-process-serve.log",
                bench_environment(),
            )
        )
        worker_arguments = ["--db", url, "--concurrency", str(plan.idle_jobs + 2), *config]
        stack.enter_context(
            activitylog_process(
                "worker", worker_arguments, free_port(), work / "worker.log", bench_environment()
            )
        )
        yield api


# -- one measurement --------------------------------------------------------------------------


def run_mode(
    mode: Mode, deployment: contextlib.AbstractContextManager[str], work: Path, plan: Plan
) -> ModeFigures:
    print(f"{mode.name}: starting", file=sys.stderr)
    with deployment as api:
        return asyncio.run(measure(mode, api, work, plan))


class Target:
    """Where the clients go, as whom."""

    def __init__(self, api: str) -> None:
        self.api = api
        self.port = int(api.rsplit(":", 1)[1])
        self.headers = auth_headers(DEMO_USER, DEMO_PASSWORD, DEMO_DOMAIN)

    async def connect(self) -> Connection:
        return await Connection.open(LOOPBACK, self.port, self.headers)


async def measure(mode: Mode, api: str, work: Path, plan: Plan) -> ModeFigures:
    target = Target(api)
    slug = mode.name.split(",")[0].replace(" ", "-")
    go_file, record_file = work / f"{slug}.go", work / f"{slug}.ticks"
    ticker_id, idle_ids = await submit_jobs(target, plan, go_file, record_file)
    ticker = paths.job_path(DEMO_DOMAIN, ticker_id)
    async with idle_waiters(
        target, [paths.job_path(DEMO_DOMAIN, i) for i in idle_ids], plan
    ) as idle:
        print(f"{mode.name}: {len(idle.tasks)} idle waiters; timing changes", file=sys.stderr)
        stream_in_place = asyncio.Event()
        stream = asyncio.create_task(follow_stream(target, ticker, stream_in_place))
        polls = asyncio.create_task(follow_long_polls(target, ticker))
        await asyncio.wait_for(stream_in_place.wait(), 30)
        await asyncio.sleep(0.2)  # the long-poll's first answer, and its next request sent
        go_file.touch()
        budget = plan.changes * plan.interval_ms / 1000 + 30
        streamed, polled = await asyncio.wait_for(asyncio.gather(stream, polls), budget)
        idle_figures = idle.figures()
    ticks = read_ticks(record_file)
    return ModeFigures(
        mode,
        [client_figures("SSE", streamed, ticks), client_figures("long-poll", polled, ticks)],
        [(committed - before) / 1e6 for before, committed in ticks.values()],
        idle_figures,
    )


async def submit_jobs(
    target: Target, plan: Plan, go_file: Path, record_file: Path
) -> tuple[int, list[int]]:
    """The ticker (waiting for ``go_file``) and the idle jobs, once all of them run."""
    ticker_parameters = {
        "intervalMs": str(plan.interval_ms),
        "ticks": str(plan.changes),
        "goFile": str(go_file),
        "recordFile": str(record_file),
    }
    async with httpx.AsyncClient(
        base_url=target.api, headers=target.headers, trust_env=False, timeout=30
    ) as client:

        async def submit(service_type: str, name: str, parameters: dict[str, str]) -> int:
            answer = await client.post(
                paths.instances_path(DEMO_DOMAIN, service_type),
                json={"serviceParameters": {"serviceName": name, **parameters}},
            )
            if answer.status_code != 202:
                raise RuntimeError(f"submitting {name}: {answer.status_code} {answer.text}")
            job_id: int = answer.json()["details"]["jobId"]
            return job_id

        ticker = await submit("ticker", "Ticker", ticker_parameters)
        idle = [await submit("idle", f"Idle{index}", {}) for index in range(plan.idle_jobs)]
        deadline = time.monotonic() + 30
        for job_id in [ticker, *idle]:
            while (await client.get(paths.job_path(DEMO_DOMAIN, job_id))).json()["status"] == "NEW":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"job {job_id} was not claimed within 30 s")
                await asyncio.sleep(0.02)
    return ticker, idle


def read_ticks(record_file: Path) -> dict[int, tuple[int, int]]:
    """Tick index to (epoch ns before the append, epoch ns once it had committed)."""
    ticks: dict[int, tuple[int, int]] = {}
    for line in record_file.read_text().splitlines():
        index, before, committed = json.loads(line)
        ticks[index] = (before, committed)
    return ticks


def tick_of(message: str) -> int | None:
    """The index in a ticker's ``tick 12 1712345678901234567``; None for other messages."""
    parts = message.split(" ")
    return int(parts[1]) if len(parts) == 3 and parts[0] == "tick" else None


def client_figures(
    client: str, arrivals: list[Arrival], ticks: dict[int, tuple[int, int]]
) -> ClientFigures:
    latencies: list[float] = []
    excluded = 0
    for arrival in arrivals:
        before, committed = ticks[arrival.tick]
        if arrival.asked_ns is not None and arrival.asked_ns > before:
            excluded += 1
        else:
            latencies.append((arrival.arrived_ns - committed) / 1e6)
    missing = len(set(ticks) - {arrival.tick for arrival in arrivals})
    return ClientFigures(client, latencies, excluded, missing)


# -- the timed clients ------------------------------------------------------------------------


async def follow_stream(target: Target, path: str, in_place: asyncio.Event) -> list[Arrival]:
    """Read the job's event stream to its end; each tick's message as it arrived."""
    connection = await target.connect()
    arrivals: list[Arrival] = []
    try:
        await connection.send_get(f"{path}/events", {"Accept": "text/event-stream"})
        status, headers = await connection.read_head()
        if status != 200:
            raise RuntimeError(f"GET {path}/events answered {status}")
        kind = b""
        async for line, arrived in connection.lines(headers):
            if line.startswith(b"event: "):
                kind = line.removeprefix(b"event: ")
            elif line.startswith(b"data: ") and kind == b"message":
                tick = tick_of(json.loads(line.removeprefix(b"data: "))["message"])
                if tick is not None:
                    arrivals.append(Arrival(tick, arrived))
            elif not line and kind == b"status":
                in_place.set()  # the stream has read the job and waits for its next change
            elif not line and kind == b"end":
                return arrivals
        raise RuntimeError(f"{path}/events closed before its end event")
    finally:
        await connection.close()


async def follow_long_polls(target: Target, path: str) -> list[Arrival]:
    """Long-poll the job with If-None-Match and ?sinceMessage until it ends."""
    connection = await target.connect()
    arrivals: list[Arrival] = []
    try:
        answer = await connection.get(path)
        job = json.loads(answer.body)
        seen, etag = len(job["messages"]), answer.headers["etag"]
        while job["status"] in {"NEW", "RUNNING"}:
            asked = time.time_ns()
            answer = await connection.get(
                f"{path}?wait=30&sinceMessage={seen}", {"If-None-Match": etag}
            )
            if answer.status == 304:
                continue
            if answer.status != 200:
                raise RuntimeError(f"GET {path}?wait=30 answered {answer.status}")
            job = json.loads(answer.body)
            ticks = [tick_of(message["message"]) for message in job["messages"]]
            arrivals += [Arrival(t, answer.arrived_ns, asked) for t in ticks if t is not None]
            seen, etag = seen + len(job["messages"]), answer.headers["etag"]
        return arrivals
    finally:
        await connection.close()


# -- the idle waiters -------------------------------------------------------------------------


class IdleWaiters:
    """Clients waiting on jobs that never change: each is started (connected, its first answer
    read), then left waiting in a task of its own."""

    def __init__(self) -> None:
        self.tasks: list[asyncio.Task[None]] = []
        self.connections: list[Connection] = []
        self.woken = 0

    def figures(self) -> IdleFigures:
        waiting = sum(1 for task in self.tasks if not task.done())
        return IdleFigures(len(self.connections), waiting, self.woken)

    async def start_long_poll(self, target: Target, path: str) -> None:
        connection = await self._connect(target)
        answer = await connection.get(path)
        held = {"If-None-Match": answer.headers["etag"]}
        self.tasks.append(asyncio.create_task(self._keep_polling(connection, path, held)))

    async def _keep_polling(self, connection: Connection, path: str, held: dict[str, str]) -> None:
        while True:
            answer = await connection.get(f"{path}?wait={IDLE_POLL_SECONDS}", held)
            self.woken += 1
            if answer.status != 304:
                held = {"If-None-Match": answer.headers["etag"]}

    async def start_stream(self, target: Target, path: str) -> None:
        connection = await self._connect(target)
        await connection.send_get(f"{path}/events", {"Accept": "text/event-stream"})
        status, headers = await connection.read_head()
        if status != 200:
            raise RuntimeError(f"GET {path}/events answered {status}")
        events = _event_kinds(connection.lines(headers))
        while await anext(events) != b"status":
            pass  # the job's messages so far
        # The stream has read the job and waits: every later event would be a wake-up.
        self.tasks.append(asyncio.create_task(self._keep_reading(events)))

    async def _keep_reading(self, events: AsyncIterator[bytes]) -> None:
        async for _ in events:
            self.woken += 1

    async def _connect(self, target: Target) -> Connection:
        connection = await target.connect()
        self.connections.append(connection)
        return connection


async def _event_kinds(lines: AsyncIterator[tuple[bytes, int]]) -> AsyncIterator[bytes]:
    """The kind of each complete event of a stream (comments, such as keep-alives, skipped)."""
    kind = b""
    async for line, _ in lines:
        if line.startswith(b"event: "):
            kind = line.removeprefix(b"event: ")
        elif not line and kind:
            yield kind
            kind = b""


@contextlib.asynccontextmanager
async def idle_waiters(target: Target, paths: list[str], plan: Plan) -> AsyncIterator[IdleWaiters]:
    """Half idle long-polls, half idle job streams, spread over ``paths``; all connected and
    waiting on the way in, all closed on the way out."""
    waiters = IdleWaiters()
    try:
        for first in range(0, plan.waiters, CONNECT_AT_ONCE):
            batch = range(first, min(first + CONNECT_AT_ONCE, plan.waiters))
            starts = [
                (waiters.start_long_poll if index % 2 == 0 else waiters.start_stream)(
                    target, paths[index % len(paths)]
                )
                for index in batch
            ]
            await asyncio.wait_for(asyncio.gather(*starts), 30)
        await asyncio.sleep(0.5)  # the last long-polls' requests reach the server
        yield waiters
    finally:
        for task in waiters.tasks:
            task.cancel()
        await asyncio.gather(*waiters.tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in waiters.connections), return_exceptions=True)


# -- reporting --------------------------------------------------------------------------------


def format_results(results: list[ModeFigures], plan: Plan) -> str:
    header = ("mode", "client", "changes", "p50 ms", "p90 ms", "p99 ms", "goal p50", "p50/goal")
    rows = [header]
    for result in results:
        for client in result.clients:
            p50 = client.percentile(50)
            rows.append(
                (
                    result.mode.name,
                    client.client,
                    str(len(client.latencies_ms)),
                    f"{p50:.2f}",
                    f"{client.percentile(90):.2f}",
                    f"{client.percentile(99):.2f}",
                    f"{result.mode.goal_p50_ms:g} ms",
                    f"{p50 / result.mode.goal_p50_ms:.2f}",
                )
            )
    lines = [format_table(rows, left=2), ""]
    for result in results:
        idle, write = result.idle, sorted(result.write_ms)
        skipped = ", ".join(
            f"{c.client}: {c.excluded} not waited for, {c.missing} missing" for c in result.clients
        )
        lines.append(
            f"{result.mode.name}: {idle.still_waiting}/{plan.waiters} idle waiters still waiting "
            f"at the end, {idle.woken} woken; append p50 {write[len(write) // 2]:.2f} ms; "
            f"{skipped}"
        )
    return "\n".join(lines)


def figures(results: list[ModeFigures], plan: Plan, load_at_start: float) -> dict[str, Any]:
    return {
        "benchmark": "notify_latency",
        "waiters": plan.waiters,
        "changes": plan.changes,
        "interval_ms": plan.interval_ms,
        "idle_jobs": plan.idle_jobs,
        "cpus": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "modes": [
            {
                "mode": result.mode.name,
                "goal_p50_ms": result.mode.goal_p50_ms,
                "append_ms_p50": sorted(result.write_ms)[len(result.write_ms) // 2],
                "idle": dataclasses.asdict(result.idle),
                "clients": [
                    {
                        "client": client.client,
                        "measured": len(client.latencies_ms),
                        "not_waited_for": client.excluded,
                        "missing": client.missing,
                        "p50_ms": client.percentile(50),
                        "p90_ms": client.percentile(90),
                        "p99_ms": client.percentile(99),
                        "max_ms": max(client.latencies_ms, default=math.nan),
                        "p50_vs_goal": client.percentile(50) / result.mode.goal_p50_ms,
                    }
                    for client in result.clients
                ],
            }
            for result in results
        ],
    }


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers were stopped and the database dropped on the way out
        sys.exit(130)
