"""Benchmark the activity-log search, GET .../activitylog/{domain}/filter, on a million jobs.

Seeds a fresh database (SQLite, or a new PostgreSQL database with --db URL) with --jobs jobs
(seeding.py), starts `activitylog serve --no-worker` on it, and times typical queries from one
keep-alive client, one request at a time, round-robin over the queries so that any disturbance
spreads evenly: p50 and p99 per query, against the 20 ms goal for the p99.

    .venv/bin/python bench/filter_latency.py [--jobs N] [--db postgresql://...] [--rounds R]
        [--existing DB] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import signal
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from activitylog.client import paths
from activitylog.domain.dates import format_timestamp, parse_filter_date
from loopback_http import Connection
from report import format_table, load_average, percentile, write_json
from seeding import SeededJobs, add_seeded_database_options, is_postgres, seeded_database
from servers import LOOPBACK, activitylog_process, free_port

TARGET_P99_MS = 20.0
DAY_MS = 86_400_000


@dataclasses.dataclass(frozen=True, slots=True)
class Query:
    name: str
    params: dict[str, str]

    def target(self, domain: str) -> str:
        query = urllib.parse.urlencode(self.params)
        path = paths.filter_path(domain)
        return f"{path}?{query}" if query else path


@dataclasses.dataclass(frozen=True, slots=True)
class Measured:
    query: Query
    latencies_ms: list[float]
    total_count: int
    rows: int

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 0.50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 0.99)


@dataclasses.dataclass(frozen=True, slots=True)
class Landmarks:
    """What the queries are built from, read from the seeded data through the API."""

    total: int
    newest_start_ms: int
    service_name: str


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_seeded_database_options(parser)
    parser.add_argument("--rounds", type=int, default=200, help="requests per query (default 200)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # unwind: stop the server, drop the database
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="activitylog-filter-") as directory:
        work = Path(directory)
        with seeded_database(work, options.jobs, options.db, options.existing) as (db, seeded):
            store = "postgresql" if is_postgres(db) else "sqlite"
            measured, landmarks = run_benchmark(work, db, seeded, options)
    print(format_results(measured, store, landmarks.total))
    write_json(options.json, figures(measured, store, landmarks, options, load))
    return 0


def run_benchmark(
    work: Path, db: str, seeded: SeededJobs, options: argparse.Namespace
) -> tuple[list[Measured], Landmarks]:
    arguments = ["--db", db, "--no-worker"]
    with activitylog_process("serve", arguments, free_port(), work / "serve.log") as api:
        port = urllib.parse.urlsplit(api).port
        assert port is not None
        return asyncio.run(measure(port, seeded, options.rounds, options.warmup))


async def measure(
    port: int, seeded: SeededJobs, rounds: int, warmup: int
) -> tuple[list[Measured], Landmarks]:
    headers = seeded.headers
    connection = await Connection.open(LOOPBACK, port, headers)
    try:
        landmarks = await find_landmarks(connection, seeded.domain)
        queries = typical_queries(landmarks)
        latencies: dict[str, list[float]] = {query.name: [] for query in queries}
        answers: dict[str, dict[str, Any]] = {}
        for round_number in range(warmup + rounds):
            for query in queries:
                started = time.perf_counter()
                answers[query.name] = await fetch(connection, query.target(seeded.domain))
                elapsed_ms = (time.perf_counter() - started) * 1000
                if round_number >= warmup:
                    latencies[query.name].append(elapsed_ms)
            if round_number == warmup - 1:
                print(f"measuring {len(queries)} queries x {rounds} ...", file=sys.stderr)
    finally:
        await connection.close()
    measured = [
        Measured(
            query,
            latencies[query.name],
            int(answers[query.name]["totalCount"]),
            len(answers[query.name]["activityLogs"]),
        )
        for query in queries
    ]
    return measured, landmarks


async def fetch(connection: Connection, target: str) -> dict[str, Any]:
    answer = await connection.get(target)
    if answer.status != 200:
        raise RuntimeError(f"GET {target}: {answer.status} {answer.body[:300]!r}")
    page: dict[str, Any] = json.loads(answer.body)
    return page


async def find_landmarks(connection: Connection, domain: str) -> Landmarks:
    """The number of jobs, the newest start date, and a service name from the middle."""
    path = paths.filter_path(domain)
    newest = await fetch(connection, f"{path}?limit=1")
    total = int(newest["totalCount"])
    middle = await fetch(connection, f"{path}?limit=1&offset={total // 2}")
    return Landmarks(
        total=total,
        newest_start_ms=parse_filter_date(newest["activityLogs"][0]["startDate"]),
        service_name=middle["activityLogs"][0]["serviceName"],
    )


def typical_queries(landmarks: Landmarks) -> list[Query]:
    """What clients ask: the newest activity, a status, one service, an operation, a period,
    the other orders, and pages deep into the result."""
    newest, total = landmarks.newest_start_ms, landmarks.total
    last_week = _date(newest - 7 * DAY_MS)
    month = (_date(newest - 60 * DAY_MS), _date(newest - 31 * DAY_MS))
    return [
        Query("newest first (no filter)", {}),
        Query("newest first, limit=10", {"limit": "10"}),
        Query("status=FAILED", {"status": "FAILED"}),
        Query("status=RUNNING", {"status": "RUNNING"}),
        Query("status=SUCCEED", {"status": "SUCCEED"}),
        Query("serviceName=X", {"serviceName": landmarks.service_name}),
        Query(
            "serviceName=X&fromStartDate",
            {"serviceName": landmarks.service_name, "fromStartDate": _date(newest - 90 * DAY_MS)},
        ),
        Query("serviceType=jaas", {"serviceType": "jaas"}),
        Query("operationType=BACKUP", {"operationType": "BACKUP"}),
        Query("fromStartDate=last week", {"fromStartDate": last_week}),
        Query("from/toStartDate, a month", {"fromStartDate": month[0], "toStartDate": month[1]}),
        Query(
            "status=FAILED, a month",
            {"status": "FAILED", "fromStartDate": month[0], "toStartDate": month[1]},
        ),
        Query("orderBy=startDate:asc", {"orderBy": "startDate:asc"}),
        Query("orderBy=endDate:desc", {"orderBy": "endDate:desc"}),
        Query("orderBy=endDate:asc", {"orderBy": "endDate:asc"}),
        Query("orderBy=jobId:asc", {"orderBy": "jobId:asc"}),
        Query("orderBy=serviceName:asc", {"orderBy": "serviceName:asc"}),
        Query("orderBy=status:asc", {"orderBy": "status:asc"}),
        Query("offset=1000", {"offset": "1000"}),
        Query("offset=half", {"offset": str(total // 2)}),
        Query("offset=end-100", {"offset": str(max(total - 100, 0))}),
        Query("status=FAILED&offset=jobs/32", {"status": "FAILED", "offset": str(total // 32)}),
    ]


def _date(epoch_ms: int) -> str:
    """yyyy-MM-dd, UTC."""
    return format_timestamp(epoch_ms)[:10]


def format_results(measured: list[Measured], store: str, total: int) -> str:
    header = ("query", "p50 ms", "p99 ms", "p99 / 20 ms", "totalCount", "rows")
    rows: list[tuple[str, ...]] = [header]
    rows += [
        (
            m.query.name,
            f"{m.p50:.1f}",
            f"{m.p99:.1f}",
            f"{m.p99 / TARGET_P99_MS:.2f}" + (" MISS" if m.p99 > TARGET_P99_MS else ""),
            f"{m.total_count:,}",
            str(m.rows),
        )
        for m in measured
    ]
    met = sum(m.p99 <= TARGET_P99_MS for m in measured)
    summary = f"{store}, {total:,} jobs: {met} of {len(measured)} queries within the 20 ms p99"
    return f"{summary}\n{format_table(rows)}"


def figures(
    measured: list[Measured],
    store: str,
    landmarks: Landmarks,
    options: argparse.Namespace,
    load: float,
) -> dict[str, object]:
    return {
        "benchmark": "filter_latency",
        "store": store,
        "jobs": landmarks.total,
        "rounds": options.rounds,
        "target_p99_ms": TARGET_P99_MS,
        "load_average_at_start": load,
        "results": [
            {
                "query": m.query.name,
                "params": m.query.params,
                "p50_ms": m.p50,
                "p90_ms": percentile(m.latencies_ms, 0.90),
                "p99_ms": m.p99,
                "max_ms": max(m.latencies_ms),
                "p99_ratio_to_target": m.p99 / TARGET_P99_MS,
                "total_count": m.total_count,
                "rows": m.rows,
            }
            for m in measured
        ],
    }


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # the server was stopped on the way out
        sys.exit(main())
    sys.exit(130)
