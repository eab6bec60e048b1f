"""engine_throughput.py's results: each configuration's jobs checked, and its figures.

A run counts only if every job SUCCEEDed once with the messages its work leaves, in order;
jobs per second run from the first submission to the last job's end (its endDate).
"""

from __future__ import annotations

import collections
import dataclasses
import os
import sys
from typing import Any

from activitylog.domain.dates import parse_filter_date
from activitylog.domain.jobs import STARTED_MESSAGE, SUBMITTED_MESSAGE
from engine_load import Window, Work
from peers import PeerRun
from peers.comparison import EngineRow
from report import format_table, percentile

REST_WARNING_PERCENT = 50.0
PERCENTILES = {"p50": 0.50, "p90": 0.90, "p99": 0.99}
EMBEDDED = 0


@dataclasses.dataclass(frozen=True, slots=True)
class Setup:
    """One configuration to measure."""

    store: str
    """"sqlite" or "postgresql"."""
    workers: int
    """Worker processes; 0 (EMBEDDED) is `serve` with its in-process worker and no others."""
    in_flight: int
    """Submissions at once; 1 is one producer submitting one by one."""

    @property
    def label(self) -> str:
        return "embedded" if self.workers == EMBEDDED else str(self.workers)


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


def analyse(setup: Setup, operations: int, work: Work, window: Window) -> Result:
    """Check every job, and turn its timestamps into the run's figures."""
    jobs, problems = window.jobs, check_jobs(window.jobs, operations, work.messages_per_job)
    if window.timed_out:
        problems.insert(0, "timed out: not every job had ended")
    succeeded = [job for job in jobs if job["status"] == "SUCCEED"]
    ends = [parse_filter_date(job["endDate"]) for job in succeeded]
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
    dates = {m["message"]: parse_filter_date(m["activityDate"]) for m in job["messages"]}
    return float(dates[STARTED_MESSAGE] - dates[SUBMITTED_MESSAGE])


def _started_once(job: dict[str, Any]) -> bool:
    texts = _texts(job)
    return texts.count(STARTED_MESSAGE) == 1 and SUBMITTED_MESSAGE in texts


def _texts(job: dict[str, Any]) -> list[str]:
    return [str(message["message"]) for message in job["messages"]]


def one_worker_rates(results: list[Result]) -> dict[tuple[str, int], float]:
    """(store, in flight) to the jobs/s of its 1-worker run: the base of the ratios."""
    return {
        (r.setup.store, r.setup.in_flight): r.jobs_per_second
        for r in results
        if r.setup.workers == 1
    }


def vs_one_worker(result: Result, bases: dict[tuple[str, int], float]) -> float | None:
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
        ratio = vs_one_worker(r, bases)
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
    return format_table(rows, left=2)


def format_cpu(results: list[Result]) -> str:
    """Where the CPU went over each measured window, in % of one core."""
    header = ("store", "workers", "in flight", "api %", "workers %", "busiest worker %")
    rows: list[tuple[str, ...]] = [(*header, "postgres %", "client %", "rest %")]
    for r in results:
        cpu = r.cpu_percent
        has_workers, on_postgres = r.setup.workers != EMBEDDED, r.setup.store == "postgresql"
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
        format_table(rows, left=2)
    )


def name_of(setup: Setup) -> str:
    return f"{setup.store}, workers {setup.label}, {setup.in_flight} in flight"


def progress_of(result: Result) -> str:
    return (
        f"{result.succeeded} of {result.operations} jobs SUCCEED in {result.seconds:.1f} s: "
        f"{result.jobs_per_second:,.0f} jobs/s"
    )


def peer_progress(run: PeerRun) -> str:
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
                f"note: {name_of(r.setup)}: {rest:.0f} % of a core went to other work (the "
                "kernel, other processes), so that row is noisy",
                file=sys.stderr,
            )


def report_problems(results: list[Result], peer_runs: list[PeerRun]) -> int:
    """Say loudly what went wrong; the exit status (1 when anything did)."""
    failed = [(name_of(r.setup), r.problems) for r in results if r.problems]
    failed += [(run.peer, run.problems) for run in peer_runs if run.problems]
    for name, problems in failed:
        for problem in problems:
            print(f"ERROR: {name}: {problem}", file=sys.stderr)
    return 1 if failed else 0
