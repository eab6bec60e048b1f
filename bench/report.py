"""What the benchmarks share to report: percentiles, aligned tables, the machine's load, JSON."""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least ``fraction`` of them at or below it."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def format_table(rows: Sequence[Sequence[str]], left: int = 1) -> str:
    """Rows of cells (the first row the header) in aligned columns; the first ``left``
    columns aligned left, the others right."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if column < left else cell.rjust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


def load_average(warn: bool = True) -> float:
    """The one-minute load average; say so when other work competes for the CPUs."""
    value = os.getloadavg()[0]
    cpus = os.cpu_count() or 1
    if warn and value > cpus / 2:
        print(
            f"note: load average {value:.1f} on {cpus} CPUs: other work competes with the "
            "benchmark's processes, so the figures will be noisy",
            file=sys.stderr,
        )
    return value


def write_json(path: Path | None, figures: dict[str, Any]) -> None:
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n")
