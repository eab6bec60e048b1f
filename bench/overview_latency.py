"""The console Overview's read (store.job_overview) at a million jobs: its time for each
window, through the store as the page calls it, one call at a time.

    .venv/bin/python bench/overview_latency.py [--jobs N] [--rounds R] [--db URL | --existing DB]

The seeded jobs are spread over 180 days (seeding.py): about 230 start in an hour, 5,600 in a
day and 39,000 in a week. Its 80,000 RUNNING jobs (8 % of them, with 30-day leases) are far more
than any server runs at once, which makes the lease holders' count slower here than it will be.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from activitylog.console.overview import WINDOWS
from activitylog.domain.dates import now_ms
from activitylog.store.base import open_store
from report import format_table
from seeding import add_seeded_database_options, seeded_database


async def measure(db: str, rounds: int) -> list[list[str]]:
    store = open_store(db)
    await store.open()
    try:
        domain = await store.get_domain("ExampleIdentityDomain")
        assert domain is not None
        rows = []
        for key, window in WINDOWS.items():
            now = now_ms()
            until = now - now % window.bucket_ms + window.bucket_ms
            since = until - window.buckets * window.bucket_ms
            times = []
            for _ in range(rounds):
                started = time.perf_counter()
                found = await store.job_overview(domain.domain_id, since, until, window.bucket_ms)
                times.append((time.perf_counter() - started) * 1000)
            times.sort()
            rows.append(
                [
                    key,
                    str(sum(found.started.values())),
                    str(sum(sum(s.values()) for s in found.ended.values())),
                    f"{statistics.median(times):.1f}",
                    f"{times[int(len(times) * 0.99) - 1]:.1f}",
                ]
            )
        return rows
    finally:
        await store.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_seeded_database_options(parser)
    parser.add_argument("--rounds", type=int, default=50, help="calls per window (default 50)")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory() as work,
        seeded_database(Path(work), args.jobs, args.db, args.existing) as (db, seeded),
    ):
        rows = asyncio.run(measure(db, args.rounds))
    header = ["window", "started", "ended", "p50 ms", "p99 ms"]
    print(f"job_overview at {seeded.jobs:,} jobs, {args.rounds} calls per window")
    print(format_table([header, *rows]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
