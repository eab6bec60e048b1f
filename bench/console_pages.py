"""Benchmark the web console at a million jobs: the Activity and Job pages' server time, and
what 100 open consoles cost the API's job GETs.

Seeds a fresh database (SQLite, or a new PostgreSQL database with --db URL) with --jobs jobs
(seeding.py), starts `activitylog serve --no-worker` on it and signs in through the console's
form. Then:

1. pages: from one keep-alive client, one request at a time, round-robin so that a disturbance
   hits every row alike, the console's pages and, as the reference measured in the same rounds,
   the API request that reads the same data: p50 and p99 of each, and the ratio to its
   reference;
2. open consoles: --consoles (100) console domain streams (/console/events), each with a
   session of its own, signed in through the form, while --connections keep-alive clients GET
   one job through the API back to back; requests per second without and with the streams, in
   interleaved segments, and the ratio.

    .venv/bin/python bench/console_pages.py [--jobs N] [--db postgresql://...] [--existing DB]
        [--rounds R] [--consoles 100] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import html
import json
import re
import signal
import sys
import tempfile
import time
import urllib.parse
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from types import FrameType

from activitylog.client import paths
from activitylog.console.sessions import SESSIONS_PER_USER
from auth_flood import SIGN_IN_PASSWORD, add_users
from domain_streams import NO_CAPS, raise_open_file_limit
from loopback_http import Answer, Connection
from report import format_table, load_average, percentile, write_json
from seeding import SeededJobs, add_seeded_database_options, is_postgres, seeded_database
from servers import LOOPBACK, activitylog_process, free_port

CONSOLE_PAGE_SIZE = 50  # the Activity page's rows; the API reference asks for as many
SESSION_COOKIE = "activitylog_console"
SIGN_IN_COOKIE = "activitylog_console_sign_in"
_OLDER_LINK = re.compile(r'<a href="(/console/activity\?[^"]*)"[^>]*>Older</a>')
_CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclasses.dataclass(frozen=True, slots=True)
class Probe:
    """One request measured: a console page, or the API request it is compared with."""

    name: str
    target: str
    console: bool
    reference: str | None = None
    """The name of the probe this one is divided by."""


@dataclasses.dataclass(frozen=True, slots=True)
class Throughput:
    consoles: int
    requests: int
    seconds: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_seeded_database_options(parser, " (the bench adds a few viewers)")
    parser.add_argument("--rounds", type=int, default=100, help="requests per row (default 100)")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured rounds first (default 3)")
    parser.add_argument("--consoles", type=int, default=100, help="open consoles (default 100)")
    parser.add_argument(
        "--connections", type=int, default=8, help="job GET clients at once (default 8)"
    )
    parser.add_argument(
        "--segments", type=int, default=6, help="throughput segments, alternating (default 6)"
    )
    parser.add_argument(
        "--segment-seconds", type=float, default=3.0, help="each segment's length (default 3)"
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # unwind: stop the server, drop the database
    raise_open_file_limit(2 * options.consoles + 256)
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="activitylog-console-") as directory:
        work = Path(directory)
        with seeded_database(work, options.jobs, options.db, options.existing) as (db, seeded):
            store = "postgresql" if is_postgres(db) else "sqlite"
            # No pruning: the seeded jobs go back 180 days, past the default retention's 30.
            arguments = ["--db", db, "--no-worker", "--prune-interval", "0"]
            log = work / "serve.log"
            with activitylog_process("serve", arguments, free_port(), log, NO_CAPS) as api:
                port = urllib.parse.urlsplit(api).port
                assert port is not None
                latencies, probes, throughput, total = asyncio.run(run(port, seeded, options))
    print(format_pages(latencies, probes, store, total))
    print()
    print(format_throughput(throughput, options))
    write_json(options.json, figures(latencies, probes, throughput, store, options, load, total))
    return 0


async def run(
    port: int, seeded: SeededJobs, options: argparse.Namespace
) -> tuple[dict[str, list[float]], list[Probe], list[Throughput], int]:
    cookie = await sign_in(port, seeded.domain, seeded.user, seeded.password)
    api = await Connection.open(LOOPBACK, port, seeded.headers)
    console = await Connection.open(LOOPBACK, port, {"Cookie": f"{SESSION_COOKIE}={cookie}"})
    try:
        probes, total = await plan_probes(api, console, seeded)
        latencies = await measure_pages(api, console, probes, options.rounds, options.warmup)
    finally:
        await api.close()
        await console.close()
    job_path = next(probe.target for probe in probes if probe.name == "API job GET")
    throughput = await measure_throughput(port, seeded, job_path, options)
    return latencies, probes, throughput, total


async def sign_in(port: int, domain: str, user: str, password: str) -> str:
    """Sign in through the form, as a browser does; the session cookie's value."""
    connection = await Connection.open(LOOPBACK, port, {})
    try:
        form = await connection.get("/console/sign-in")
        token_cookie = _cookie(form, SIGN_IN_COOKIE)
        token = _CSRF_FIELD.search(form.body.decode())
        if form.status != 200 or token is None:
            raise RuntimeError(f"the sign-in form answered {form.status}")
        body = urllib.parse.urlencode(
            {
                "csrf_token": html.unescape(token.group(1)),
                "domain": domain,
                "user": user,
                "password": password,
            }
        ).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"{SIGN_IN_COOKIE}={token_cookie}",
        }
        answer = await connection.post("/console/sign-in", body, headers)
    finally:
        await connection.close()
    if answer.status != 303:
        raise RuntimeError(f"signing in answered {answer.status}: {answer.body[:300]!r}")
    return _cookie(answer, SESSION_COOKIE)


def _cookie(answer: Answer, name: str) -> str:
    found = re.search(rf"(?:^|, ){name}=([^;]*)", answer.headers.get("set-cookie", ""))
    if found is None:
        raise RuntimeError(f"no {name} cookie in the answer ({answer.status})")
    return found.group(1)


async def plan_probes(
    api: Connection, console: Connection, seeded: SeededJobs
) -> tuple[list[Probe], int]:
    """The console's pages beside the API requests that read the same jobs; the jobs stored."""
    filter_path = paths.filter_path(seeded.domain)
    total = int(json.loads((await _ok(api, f"{filter_path}?limit=1")).body)["totalCount"])
    half = (total // 2) // CONSOLE_PAGE_SIZE * CONSOLE_PAGE_SIZE
    middle = json.loads((await _ok(api, f"{filter_path}?limit=1&offset={half}")).body)
    job_id = int(middle["activityLogs"][0]["jobId"])
    name = urllib.parse.urlencode({"serviceName": middle["activityLogs"][0]["serviceName"]})
    # The deep page's "Older" link, followed as a reader does: what the console puts there.
    deep = await _ok(console, f"/console/activity?offset={half}")
    older = _OLDER_LINK.search(deep.body.decode())
    if older is None:
        raise RuntimeError("the deep Activity page has no Older link")
    job_path = paths.job_path(seeded.domain, job_id)
    limit = f"limit={CONSOLE_PAGE_SIZE}"
    probes = [
        Probe("API job GET", job_path, console=False),
        Probe("Job page", f"/console/jobs/{job_id}", True, "API job GET"),
        Probe("API filter, newest", f"{filter_path}?{limit}", console=False),
        Probe("Activity, first page", "/console/activity", True, "API filter, newest"),
        Probe("API filter, FAILED", f"{filter_path}?{limit}&status=FAILED", console=False),
        Probe(
            "Activity, status=FAILED",
            "/console/activity?status=FAILED",
            True,
            "API filter, FAILED",
        ),
        Probe("API filter, BACKUP", f"{filter_path}?{limit}&operationType=BACKUP", False),
        Probe(
            "Activity, operationType=BACKUP",
            "/console/activity?operationType=BACKUP",
            True,
            "API filter, BACKUP",
        ),
        Probe("API filter, serviceName", f"{filter_path}?{limit}&{name}", console=False),
        Probe(
            "Activity, serviceName", f"/console/activity?{name}", True, "API filter, serviceName"
        ),
        Probe("API filter, offset=half", f"{filter_path}?{limit}&offset={half}", False),
        Probe(
            "Activity, offset=half",
            f"/console/activity?offset={half}",
            True,
            "API filter, offset=half",
        ),
        Probe(
            "Activity, its Older link there",
            html.unescape(older.group(1)),
            True,
            "API filter, offset=half",
        ),
    ]
    return probes, total


async def _ok(connection: Connection, target: str) -> Answer:
    answer = await connection.get(target)
    if answer.status != 200:
        raise RuntimeError(f"GET {target}: {answer.status} {answer.body[:300]!r}")
    return answer


async def measure_pages(
    api: Connection, console: Connection, probes: list[Probe], rounds: int, warmup: int
) -> dict[str, list[float]]:
    latencies: dict[str, list[float]] = {probe.name: [] for probe in probes}
    for round_number in range(warmup + rounds):
        for probe in probes:
            started = time.perf_counter()
            await _ok(console if probe.console else api, probe.target)
            elapsed_ms = (time.perf_counter() - started) * 1000
            if round_number >= warmup:
                latencies[probe.name].append(elapsed_ms)
        if round_number == warmup - 1:
            print(f"measuring {len(probes)} pages x {rounds} ...", file=sys.stderr)
    return latencies


async def measure_throughput(
    port: int, seeded: SeededJobs, job_path: str, options: argparse.Namespace
) -> list[Throughput]:
    """Job GETs per second in alternating segments: without the consoles, then with them."""
    # A user holds at most SESSIONS_PER_USER console sessions: the consoles are those of
    # as many viewers as that takes, each signed in that many times.
    viewers = [f"console{n}@example.com" for n in range(-(-options.consoles // SESSIONS_PER_USER))]
    await add_users(port, seeded, viewers)
    cookies = [
        await sign_in(port, seeded.domain, viewers[n // SESSIONS_PER_USER], SIGN_IN_PASSWORD)
        for n in range(options.consoles)
    ]
    clients = [
        await Connection.open(LOOPBACK, port, seeded.headers) for _ in range(options.connections)
    ]
    segments: list[Throughput] = []
    try:
        await _load(clients, job_path, 1.0)  # warm-up, unmeasured
        print(f"measuring job GETs: {options.segments} segments ...", file=sys.stderr)
        for segment in range(options.segments):
            consoles = options.consoles if segment % 2 else 0
            async with open_consoles(port, cookies[:consoles]):
                requests, errors, seconds = await _load(clients, job_path, options.segment_seconds)
            segments.append(Throughput(consoles, requests, seconds, errors))
    finally:
        await asyncio.gather(*(client.close() for client in clients))
    return segments


async def _load(clients: list[Connection], job_path: str, seconds: float) -> tuple[int, int, float]:
    """Each client GETs the job back to back for ``seconds``: answers, errors, seconds taken."""
    started = time.perf_counter()
    deadline = started + seconds
    counts = [0, 0]

    async def client_loop(client: Connection) -> None:
        while time.perf_counter() < deadline:
            answer = await client.get(job_path)
            counts[0 if answer.status == 200 else 1] += 1

    await asyncio.gather(*(client_loop(client) for client in clients))
    return counts[0], counts[1], time.perf_counter() - started


@contextlib.asynccontextmanager
async def open_consoles(port: int, cookies: list[str]) -> AsyncIterator[None]:
    """A console domain stream per session, each answered, read to its end in the meantime."""
    connections = [
        await Connection.open(LOOPBACK, port, {"Cookie": f"{SESSION_COOKIE}={cookie}"})
        for cookie in cookies
    ]
    readers: list[asyncio.Task[None]] = []
    try:
        for connection in connections:
            await connection.send_get("/console/events", {"Accept": "text/event-stream"})
            status, headers = await connection.read_head()
            if status != 200:
                raise RuntimeError(f"a console stream was answered {status}")
            readers.append(asyncio.create_task(_read_to_end(connection, headers)))
        yield
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in connections))


async def _read_to_end(connection: Connection, headers: dict[str, str]) -> None:
    async for _line, _arrived in connection.lines(headers):
        pass


def format_pages(
    latencies: dict[str, list[float]], probes: list[Probe], store: str, jobs: int
) -> str:
    rows = [["request", "p50 ms", "p99 ms", "p50 vs ref", "p99 vs ref", "reference"]]
    for probe in probes:
        mine = latencies[probe.name]
        reference = latencies[probe.reference] if probe.reference else None
        rows.append(
            [
                probe.name,
                f"{percentile(mine, 0.5):.1f}",
                f"{percentile(mine, 0.99):.1f}",
                _ratio(mine, reference, 0.5),
                _ratio(mine, reference, 0.99),
                probe.reference or "",
            ]
        )
    return f"{store}, {jobs:,} jobs: server time of the console's pages\n{format_table(rows)}"


def _ratio(mine: list[float], reference: list[float] | None, fraction: float) -> str:
    if reference is None:
        return ""
    return f"{percentile(mine, fraction) / percentile(reference, fraction):.2f}x"


def format_throughput(segments: list[Throughput], options: argparse.Namespace) -> str:
    without = _rate([s for s in segments if not s.consoles])
    held = _rate([s for s in segments if s.consoles])
    errors = sum(s.errors for s in segments)
    rows = [
        ["API job GETs", "req/s"],
        ["without consoles", f"{without:,.0f}"],
        [f"with {options.consoles} open consoles", f"{held:,.0f}"],
        ["ratio", f"{held / without:.2f}x" if without else "-"],
    ]
    header = (
        f"{options.connections} clients, {len(segments)} alternating segments of "
        f"{options.segment_seconds:g} s, {errors} errors"
    )
    return f"{header}\n{format_table(rows)}"


def _rate(segments: list[Throughput]) -> float:
    seconds = sum(s.seconds for s in segments)
    return sum(s.requests for s in segments) / seconds if seconds else 0.0


def figures(
    latencies: dict[str, list[float]],
    probes: list[Probe],
    segments: list[Throughput],
    store: str,
    options: argparse.Namespace,
    load: float,
    total: int,
) -> dict[str, object]:
    return {
        "benchmark": "console_pages",
        "store": store,
        "jobs": total,
        "rounds": options.rounds,
        "consoles": options.consoles,
        "load_average": [load, load_average(warn=False)],
        "pages": [
            {
                "request": probe.name,
                "target": probe.target,
                "reference": probe.reference,
                "p50_ms": percentile(latencies[probe.name], 0.5),
                "p99_ms": percentile(latencies[probe.name], 0.99),
            }
            for probe in probes
        ],
        "throughput": [dataclasses.asdict(s) | {"per_second": s.per_second} for s in segments],
        "job_gets_per_second": {
            "without_consoles": _rate([s for s in segments if not s.consoles]),
            "with_consoles": _rate([s for s in segments if s.consoles]),
        },
    }


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # the server was stopped on the way out
        sys.exit(main())
    sys.exit(130)
