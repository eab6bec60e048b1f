"""The whole benchmark suite in one command: every benchmark, one summary table, JSON files.

    bench/run [--quick] [--soak-seconds S] [--postgres URL | --no-postgres] [--only NAMES]
        [--results DIR]

Runs each benchmark script as its own process (its output streams through), each writing
``<results>/<name>.json``; then reads those files back, prints one table of the figures that
matter with the reference each is measured against, and writes ``<results>/summary.json``.
One SQLite database of --large-jobs jobs is seeded once and shared by the benchmarks that only
read it (the soak gets a copy). --quick is a smoke run: 100,000 jobs, seconds per step.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from report import format_table, load_average, write_json
from seeding import DEFAULT_POSTGRES, postgres_answers, seed_jobs

BENCH = Path(__file__).resolve().parent
SMALL_JOBS = 10_000
RPS_GOAL = 0.90
"""Job-status throughput at the large size, as a fraction of that at the small size."""
FILTER_GOAL_MS = 20.0
RSS_GOAL_MB = 100.0


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    large_jobs: int
    job_status_seconds: float
    filter_rounds: int
    engine_operations: int
    engine_stores: str
    notify: list[str]
    soak_seconds: float
    warmup_seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Step:
    name: str
    command: list[str]


@dataclasses.dataclass(frozen=True, slots=True)
class Figure:
    benchmark: str
    measure: str
    value: str
    reference: str = ""
    goal: str = ""
    met: bool | None = None


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few minutes")
    parser.add_argument(
        "--large-jobs", type=int, default=None, help="the large size (1000000; quick 100000)"
    )
    parser.add_argument(
        "--soak-seconds", type=float, default=None, help="RSS soak length (600; quick 30)"
    )
    parser.add_argument(
        "--postgres",
        default=DEFAULT_POSTGRES,
        help=f"admin URL of the PostgreSQL server (default {DEFAULT_POSTGRES})",
    )
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--only", default=None, help=f"comma-separated steps among: {', '.join(STEP_NAMES)}"
    )
    parser.add_argument(
        "--results", type=Path, default=BENCH / "results", help="where the JSON files go"
    )
    return parser.parse_args(argv)


def make_plan(options: argparse.Namespace) -> Plan:
    if options.quick:
        plan = Plan(
            100_000, 3.0, 20, 300, "sqlite", ["--waiters", "100", "--changes", "40"], 30, 10
        )
    else:
        # 5,000 engine jobs: at 2,000 the fastest configurations finish in about a second, of
        # which starting and draining are a large part (1,581 jobs/s against 2,152 at 5,000).
        plan = Plan(1_000_000, 10.0, 100, 5000, "sqlite,postgresql", [], 600, 60)
    if options.no_postgres:
        plan = dataclasses.replace(plan, engine_stores="sqlite")
    if options.large_jobs is not None:
        plan = dataclasses.replace(plan, large_jobs=options.large_jobs)
    if options.soak_seconds is not None:
        plan = dataclasses.replace(plan, soak_seconds=options.soak_seconds)
    return plan


STEP_NAMES = (
    "job_status_small",
    "job_status_large",
    "poll_random_small",
    "poll_random_large",
    "poll_spread_large",
    "filter_sqlite",
    "filter_postgresql",
    "engine_throughput",
    "notify_latency",
    "rss_soak",
    "auth_flood",
    "console_pages",
)


def steps(plan: Plan, options: argparse.Namespace, shared: Path, soak_copy: Path) -> list[Step]:
    small, large = ["--jobs", str(SMALL_JOBS)], ["--jobs", str(plan.large_jobs)]
    duration = ["--duration", str(plan.job_status_seconds)]
    rounds = ["--rounds", str(plan.filter_rounds)]
    postgres = [] if options.no_postgres else ["--postgres", options.postgres]
    soak = ["--soak-seconds", str(plan.soak_seconds), "--warmup-seconds", str(plan.warmup_seconds)]
    engine = ["--operations", str(plan.engine_operations), "--stores", plan.engine_stores]
    commands = {
        "job_status_small": ["job_status.py", *small, *duration],
        "job_status_large": ["job_status.py", *large, *duration],
        "poll_random_small": ["poll_random_jobs.py", *small, *duration],
        "poll_random_large": ["poll_random_jobs.py", "--existing", str(shared), *duration],
        "poll_spread_large": [
            "poll_random_jobs.py",
            "--existing",
            str(shared),
            "--spread",
            str(SMALL_JOBS),
            *duration,
        ],
        "filter_sqlite": ["filter_latency.py", "--existing", str(shared), *rounds],
        "filter_postgresql": ["filter_latency.py", *large, "--db", options.postgres, *rounds],
        "engine_throughput": ["engine_throughput.py", *engine, *postgres],
        "notify_latency": ["notify_latency.py", *plan.notify, *(postgres or ["--skip-postgres"])],
        "rss_soak": ["rss_soak.py", "--existing", str(soak_copy), *soak],
        "auth_flood": ["auth_flood.py", "--duration", str(2 * plan.job_status_seconds)],
        "console_pages": ["console_pages.py", "--existing", str(shared), *rounds],
    }
    chosen = _chosen(options)
    if options.no_postgres:
        chosen.discard("filter_postgresql")
    return [Step(name, command) for name, command in commands.items() if name in chosen]


def _chosen(options: argparse.Namespace) -> set[str]:
    chosen = set(options.only.split(",")) if options.only else set(STEP_NAMES)
    unknown = chosen - set(STEP_NAMES)
    if unknown:
        raise SystemExit(f"unknown steps: {', '.join(sorted(unknown))}")
    return chosen


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    plan = make_plan(options)
    if not options.no_postgres and not postgres_answers(options.postgres):
        print(f"note: no PostgreSQL at {options.postgres}: SQLite only", file=sys.stderr)
        options.no_postgres = True
        plan = dataclasses.replace(plan, engine_stores="sqlite")
    load = load_average()
    options.results.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with shared_databases(plan, options) as (shared, soak_copy):
        outcomes = {
            step.name: run_step(step, options.results)
            for step in steps(plan, options, shared, soak_copy)
        }
    failed = [name for name, ok in outcomes.items() if not ok]
    figures = summarize(options.results, plan)
    print()
    print(format_summary(figures, plan, failed))
    summary = {
        "benchmark": "suite",
        "quick": options.quick,
        "large_jobs": plan.large_jobs,
        "small_jobs": SMALL_JOBS,
        "minutes": (time.monotonic() - started) / 60,
        "load_average_at_start": load,
        "failed_steps": failed,
        "figures": [dataclasses.asdict(figure) for figure in figures],
    }
    write_json(options.results / "summary.json", summary)
    print(f"\nJSON: {options.results}/*.json", file=sys.stderr)
    return 1 if failed else 0


@contextlib.contextmanager
def shared_databases(plan: Plan, options: argparse.Namespace) -> Iterator[tuple[Path, Path]]:
    """One seeded SQLite file for the benchmarks that only read it, and a copy for the soak."""
    needs = {"poll_random_large", "poll_spread_large", "filter_sqlite", "rss_soak"}
    chosen = _chosen(options)
    with tempfile.TemporaryDirectory(prefix="activitylog-suite-") as directory:
        shared, soak_copy = Path(directory) / "shared.db", Path(directory) / "soak.db"
        if needs & chosen:
            print(f"seeding {plan.large_jobs:,} jobs to share ...", file=sys.stderr)
            seed_jobs(str(shared), plan.large_jobs)
            if "rss_soak" in chosen:
                shutil.copyfile(shared, soak_copy)
        yield shared, soak_copy


def run_step(step: Step, results: Path) -> bool:
    """Run one benchmark, its output passing through; whether it succeeded."""
    output = results / f"{step.name}.json"
    output.unlink(missing_ok=True)
    command = [sys.executable, str(BENCH / step.command[0]), *step.command[1:]]
    print(f"\n=== {step.name}: {' '.join(step.command)}", file=sys.stderr, flush=True)
    started = time.monotonic()
    finished = subprocess.run([*command, "--json", str(output)], check=False, cwd=BENCH)
    minutes = (time.monotonic() - started) / 60
    ok = finished.returncode == 0 and output.exists()
    print(f"=== {step.name}: {'done' if ok else 'FAILED'} in {minutes:.1f} min", file=sys.stderr)
    return ok


# -- the summary -------------------------------------------------------------------------------


def summarize(results: Path, plan: Plan) -> list[Figure]:
    def read(name: str) -> dict[str, Any] | None:
        path = results / f"{name}.json"
        return json.loads(path.read_text()) if path.exists() else None

    figures: list[Figure] = []
    readers: list[tuple[Callable[..., list[Figure]], tuple[str, ...]]] = [
        (job_status_figures, ("job_status_small", "job_status_large")),
        (poll_random_figures, ("poll_random_small", "poll_random_large")),
        (poll_spread_figures, ("poll_random_small", "poll_spread_large")),
        (filter_figures, ("filter_sqlite",)),
        (filter_figures, ("filter_postgresql",)),
        (engine_figures, ("engine_throughput",)),
        (notify_figures, ("notify_latency",)),
        (rss_figures, ("rss_soak",)),
        (auth_flood_figures, ("auth_flood",)),
        (console_figures, ("console_pages",)),
    ]
    for reader, names in readers:
        data = [read(name) for name in names]
        if all(d is not None for d in data):
            figures += reader(*data)
    return figures


def _size(jobs: int) -> str:
    return f"{jobs // 1_000_000}M" if jobs % 1_000_000 == 0 else f"{jobs // 1000}k"


def _by_kind(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A job_status result list by kind: nginx (the first), SUCCEED, RUNNING."""
    kinds = {"nginx": results[0]}
    for result in results[1:]:
        for kind in ("SUCCEED", "RUNNING"):
            if kind in result["target"]:
                kinds[kind] = result
    return kinds


def job_status_figures(small: dict[str, Any], large: dict[str, Any]) -> list[Figure]:
    size = f"{_size(small['jobs'])} -> {_size(large['jobs'])}"
    figures = []
    small_kinds, large_kinds = _by_kind(small["results"]), _by_kind(large["results"])
    for kind in ("SUCCEED", "RUNNING"):
        if kind not in small_kinds or kind not in large_kinds:
            continue
        before, after = small_kinds[kind], large_kinds[kind]
        for label, data in ((_size(small["jobs"]), before), (_size(large["jobs"]), after)):
            figures.append(
                Figure(
                    "job status, one job",
                    f"{kind} job, {label}: req/s (p50 / p99 ms)",
                    f"{data['requests_per_second']:,.0f} "
                    f"({data['latency_ms']['50']:.2f} / {data['latency_ms']['99']:.2f})",
                    f"{data['rps_ratio_to_nginx']:.3f} of nginx",
                )
            )
        ratio = after["rps_ratio_to_nginx"] / before["rps_ratio_to_nginx"]
        figures.append(
            Figure(
                "job status, one job",
                f"{kind} job, req/s vs nginx, {size}",
                f"{ratio:.2f}",
                f"raw req/s {after['requests_per_second'] / before['requests_per_second']:.2f}",
                f">= {RPS_GOAL:.2f}",
                ratio >= RPS_GOAL,
            )
        )
    return figures


def auth_flood_figures(data: dict[str, Any]) -> list[Figure]:
    quiet, flooded = data["phases"]
    p99 = (
        f"{quiet['client_p99_ms']:.2f} -> {flooded['client_p99_ms']:.2f}: "
        f"{data['client_p99_ratio']:.2f}"
    )
    sign_in = data["slowest_sign_in_ms"]
    return [
        Figure(
            "wrong-password flood",
            "signed-in client's p99 ms, no flood -> flood: ratio",
            p99,
            f"{flooded['poll_errors']} errors",
            f"<= {data['client_p99_goal']:g}",
            data["client_p99_ratio"] <= data["client_p99_goal"] and flooded["poll_errors"] == 0,
        ),
        Figure(
            "wrong-password flood",
            "slowest new sign-in during the flood, ms",
            f"{sign_in:,.0f}",
            f"{max(quiet['sign_ins_ms']):,.0f} without",
            f"<= {data['sign_in_goal_ms']:,.0f} ms",
            sign_in <= data["sign_in_goal_ms"] and flooded["sign_in_errors"] == 0,
        ),
    ]


def console_figures(data: dict[str, Any]) -> list[Figure]:
    """Each console page against the API request that reads the same jobs; the job GETs'
    throughput with the open consoles against without."""
    benchmark = f"console, {data['store']}, {_size(data['jobs'])}"
    by_name = {page["request"]: page for page in data["pages"]}
    figures = [
        Figure(
            benchmark,
            f"{page['request']}: p50 / p99 ms",
            f"{page['p50_ms']:.1f} / {page['p99_ms']:.1f}",
            f"p50 {page['p50_ms'] / by_name[page['reference']]['p50_ms']:.2f}x {page['reference']}",
        )
        for page in data["pages"]
        if page["reference"] is not None
    ]
    rates = data["job_gets_per_second"]
    figures.append(
        Figure(
            benchmark,
            f"API job GET req/s, {data['consoles']} open consoles -> none",
            f"{rates['with_consoles'] / rates['without_consoles']:.2f}",
            f"{rates['with_consoles']:,.0f} vs {rates['without_consoles']:,.0f} req/s",
        )
    )
    return figures


def poll_random_figures(small: dict[str, Any], large: dict[str, Any]) -> list[Figure]:
    figures = []
    for data in (small, large):
        ours = data["results"][-1]
        figures.append(
            Figure(
                "job status, random jobs",
                f"{_size(data['jobs'])}: req/s (p50 / p99 ms)",
                f"{ours['requests_per_second']:,.0f} "
                f"({ours['latency_ms']['50']:.2f} / {ours['latency_ms']['99']:.2f})",
                f"{ours['rps_ratio_to_nginx']:.3f} of nginx",
            )
        )
    ratio = large["results"][-1]["rps_ratio_to_nginx"] / small["results"][-1]["rps_ratio_to_nginx"]
    figures.append(
        Figure(
            "job status, random jobs",
            f"req/s vs nginx, {_size(small['jobs'])} -> {_size(large['jobs'])}",
            f"{ratio:.2f}",
            "",
            f">= {RPS_GOAL:.2f}",
            ratio >= RPS_GOAL,
        )
    )
    return figures


def poll_spread_figures(small: dict[str, Any], recent: dict[str, Any]) -> list[Figure]:
    """The same number of jobs polled at random, stored alone or among many more: what the
    size of the store itself costs."""
    ours = recent["results"][-1]
    polled, stored = _size(recent["jobs_polled"]), _size(recent["jobs"])
    ratio = ours["rps_ratio_to_nginx"] / small["results"][-1]["rps_ratio_to_nginx"]
    return [
        Figure(
            "job status, random jobs",
            f"{polled} spread over {stored}: req/s (p50 / p99 ms)",
            f"{ours['requests_per_second']:,.0f} "
            f"({ours['latency_ms']['50']:.2f} / {ours['latency_ms']['99']:.2f})",
            f"{ours['rps_ratio_to_nginx']:.3f} of nginx",
        ),
        Figure(
            "job status, random jobs",
            f"req/s vs nginx, {polled} polled: {_size(small['jobs'])} -> {stored} stored",
            f"{ratio:.2f}",
            "",
            f">= {RPS_GOAL:.2f}",
            ratio >= RPS_GOAL,
        ),
    ]


def filter_figures(data: dict[str, Any]) -> list[Figure]:
    results = data["results"]
    name = f"filter, {data['store']}, {_size(data['jobs'])}"
    within = [r for r in results if r["p99_ms"] <= FILTER_GOAL_MS]
    worst = max(results, key=lambda r: r["p99_ms"])
    figures = [
        Figure(
            name,
            "queries with p99 within 20 ms",
            f"{len(within)} of {len(results)}",
            "",
            "all",
            len(within) == len(results),
        ),
        Figure(name, "median query: p50 / p99 ms", _median_latencies(results), "", "", None),
    ]
    figures += [
        Figure(
            name,
            f"MISS {r['query']}: p50 / p99 ms",
            f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f}",
            f"{r['p99_ratio_to_target']:.2f} of 20 ms",
            "<= 20 ms",
            False,
        )
        for r in results
        if r["p99_ms"] > FILTER_GOAL_MS
    ]
    if worst["p99_ms"] <= FILTER_GOAL_MS:
        figures.append(Figure(name, f"slowest: {worst['query']}", f"{worst['p99_ms']:.1f} ms p99"))
    return figures


def _median_latencies(results: list[dict[str, Any]]) -> str:
    p50 = sorted(r["p50_ms"] for r in results)[len(results) // 2]
    p99 = sorted(r["p99_ms"] for r in results)[len(results) // 2]
    return f"{p50:.1f} / {p99:.1f}"


def engine_figures(data: dict[str, Any]) -> list[Figure]:
    figures = []
    for r in data.get("results", []):
        workers = "embedded" if r.get("embedded") else f"{r.get('worker_processes')} worker(s)"
        in_flight = f", {r['in_flight']} in flight" if "in_flight" in r else ""
        ratio = r.get("ratio_to_one_worker")
        figures.append(
            Figure(
                "engine throughput",
                f"{r.get('store')}, {workers}{in_flight}: jobs/s",
                f"{r.get('jobs_per_second', math.nan):,.0f}",
                f"{ratio:.2f}x 1 worker" if isinstance(ratio, float) else "",
                "",
                not r.get("problems"),
            )
        )
    return figures


def notify_figures(data: dict[str, Any]) -> list[Figure]:
    return [
        Figure(
            "notification latency",
            f"{mode['mode']}, {client['client']}: p50 / p99 ms",
            f"{client['p50_ms']:.1f} / {client['p99_ms']:.1f}",
            f"{client['p50_vs_goal']:.2f} of the p50 goal",
            f"p50 <= {mode['goal_p50_ms']:g} ms",
            client["p50_ms"] <= mode["goal_p50_ms"],
        )
        for mode in data.get("modes", [])
        for client in mode.get("clients", [])
    ]


def rss_figures(data: dict[str, Any]) -> list[Figure]:
    rss = data["rss_mb"]
    name = f"server RSS, {data['store']}, {_size(data['jobs'])}"
    soak = f"{data['soak_seconds']:g} s soak"
    return [
        Figure(name, "after start, MB", f"{rss['after_start']:.1f}"),
        Figure(name, "after warm-up, MB", f"{rss['after_warmup']:.1f}"),
        Figure(
            name,
            f"end of the {soak}, MB",
            f"{rss['end']:.1f}",
            f"{rss['end_ratio_to_target']:.2f} of 100 MB",
            "<= 100 MB",
            rss["end"] <= RSS_GOAL_MB,
        ),
        Figure(
            name,
            "peak, MB",
            f"{rss['peak']:.1f}",
            f"{rss['spike_samples']} spike sample(s)",
        ),
        Figure(
            name,
            "drift: end - after warm-up, MB",
            f"{rss['drift_end_minus_warmup']:+.1f}",
            f"trend {rss['trend_mb_per_minute_second_half']:+.2f} MB/min",
            "flat (|drift| <= 5)",
            abs(rss["drift_end_minus_warmup"]) <= 5,
        ),
    ]


def format_summary(figures: list[Figure], plan: Plan, failed: list[str]) -> str:
    header = ("benchmark", "measure", "value", "against", "goal", "met")
    rows: list[tuple[str, ...]] = [header]
    for f in figures:
        met = "" if f.met is None else ("yes" if f.met else "NO")
        rows.append((f.benchmark, f.measure, f.value, f.reference, f.goal, met))
    title = f"activitylog benchmark suite: {SMALL_JOBS:,} and {plan.large_jobs:,} jobs"
    lines = [title, format_table(rows, left=2)]
    if failed:
        lines.append(f"FAILED steps (no figures): {', '.join(failed)}")
    return "\n".join(lines)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
    sys.exit(130)
