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
import contextlib
import importlib.util
import os
import signal
import socket
import sys
import tempfile
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType

from engine_load import WORKS, BenchmarkFailed, measure
from engine_results import (
    EMBEDDED,
    Result,
    Setup,
    analyse,
    format_cpu,
    format_results,
    name_of,
    one_worker_rates,
    one_worker_rows,
    peer_progress,
    progress_of,
    report_problems,
    vs_one_worker,
    warn_if_disturbed,
)
from peers import PEERS, PeerFailed, PeerRun, PeerSettings, importable_peers
from peers.comparison import (
    comparison_figures,
    format_comparison,
    format_peers,
)
from process_cpu import CpuMeter
from report import load_average, write_json
from seeding import DEFAULT_POSTGRES, fresh_postgres_database, postgres_answers
from servers import ServerFailed, activitylog_process, bench_environment, free_port

CONFIG = """\
[service_types.noop]
description = "bench/engine_throughput.py: returns at once"
handler = "python:noop_handlers:noop"
[service_types.noop.operations.CREATE_SERVICE]
"""
LOOPBACK_HOSTS = ("127.0.0.1",)
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


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
        check_postgres(options.postgres)
    check_redis(options)
    load_at_start = load_average()
    results: list[Result] = []
    peer_runs: list[PeerRun] = []
    with tempfile.TemporaryDirectory(prefix="activitylog-bench-") as directory:
        (Path(directory) / "activitylog.toml").write_text(CONFIG)
        for setup in plan(options):
            results.append(run_setup(setup, options, Path(directory)))
            print(f"  {progress_of(results[-1])}", file=sys.stderr)
        for peer in options.peers:
            peer_runs.append(run_peer(peer, options, Path(directory)))
            print(f"  {peer_progress(peer_runs[-1])}", file=sys.stderr)
    print(format_results(results))
    print()
    print(format_cpu(results))
    if options.peers:
        print()
        print(format_peers(peer_runs))
    # No-op peers against demo jobs compare unlike work: only when asked for.
    rows = one_worker_rows(results)
    if rows and (peer_runs or options.work == "noop"):
        print()
        print(format_comparison(rows, peer_runs, options.work))
    warn_if_disturbed(results)
    write_json(options.json, figures(results, peer_runs, options, load_at_start))
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
    configurations = [("sqlite", EMBEDDED)]
    configurations += [(store, n) for store in options.stores for n in options.workers]
    return [Setup(*c, in_flight) for c in configurations for in_flight in options.in_flight]


# -- one configuration ----------------------------------------------------------------------


def run_setup(setup: Setup, options: argparse.Namespace, work: Path) -> Result:
    """Start the processes on a fresh database, measure, stop them, and drop the database."""
    name = f"{setup.store}-{setup.label}-{setup.in_flight}"
    print(f"{name_of(setup)}: starting", file=sys.stderr)
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
        load = (setup.in_flight, WORKS[options.work], options.operations, options.timeout)
        window = asyncio.run(measure(api, *load, meter))
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
    return bench_environment()


@contextlib.contextmanager
def fresh_database(store: str, admin_url: str, stem: Path) -> Iterator[str]:
    """A new SQLite file, or a new PostgreSQL database dropped on the way out."""
    if store == "sqlite":
        yield str(stem.with_suffix(".db"))
        return
    with fresh_postgres_database(admin_url) as url:
        yield url


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
    if setup.workers != EMBEDDED:
        arguments += ["--no-worker"]
    port = free_port()
    roles[port] = "api"
    with activitylog_process("serve", arguments, port, stem.with_suffix(".log"), env) as base:
        yield base


def check_postgres(admin_url: str) -> None:
    if not postgres_answers(admin_url):
        raise SystemExit(
            f"PostgreSQL at {admin_url} is not reachable; start it, or pass "
            "--stores sqlite and --peers celery or none"
        )


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


def figures(
    results: list[Result],
    peer_runs: list[PeerRun],
    options: argparse.Namespace,
    load_at_start: float,
) -> dict[str, object]:
    bases = one_worker_rates(results)
    return {
        "benchmark": "engine_throughput",
        "work": options.work,
        "messages_per_job": WORKS[options.work].messages_per_job,
        "operations": options.operations,
        "worker_slots": options.slots,
        "cpus": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "results": [
            {
                "store": r.setup.store,
                "embedded": r.setup.workers == EMBEDDED,
                "worker_processes": r.setup.workers,
                "in_flight": r.setup.in_flight,
                "jobs_succeeded": r.succeeded,
                "seconds": r.seconds,
                "jobs_per_second": r.jobs_per_second,
                "ratio_to_one_worker": vs_one_worker(r, bases),
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
