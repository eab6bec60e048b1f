"""activitylog's one-worker figures against the peers': the tables and the JSON figures.

Each ratio divides activitylog's jobs/s by the peer's, measured in the same run when it could be
(else the figure issue #7 reports, marked "ref"), and says whether it meets the issue's target.
"""

from __future__ import annotations

import dataclasses

from peers import PEERS, PeerRun
from report import format_table


@dataclasses.dataclass(frozen=True, slots=True)
class EngineRow:
    """One activitylog configuration with one worker process."""

    store: str
    in_flight: int
    jobs_per_second: float
    ok: bool

    @property
    def label(self) -> str:
        how = "one by one" if self.in_flight == 1 else f"{self.in_flight} in flight"
        return f"{self.store}, {how}"


@dataclasses.dataclass(frozen=True, slots=True)
class Basis:
    peer: str
    jobs_per_second: float
    measured: bool
    target: float


def bases(runs: list[PeerRun]) -> list[Basis]:
    """Per peer, what activitylog is divided by: this run's figure if it went well, else the
    issue's reference."""
    measured = {run.peer: run for run in runs if not run.problems and run.jobs_per_second > 0}
    return [
        Basis(name, measured[name].jobs_per_second, True, peer.target)
        if name in measured
        else Basis(name, peer.reference, False, peer.target)
        for name, peer in PEERS.items()
    ]


def format_peers(runs: list[PeerRun]) -> str:
    header = ("peer", "setup", "jobs/s", "enqueues/s", "worker %", "broker %", "client %", "ok")
    rows: list[tuple[str, ...]] = [header]
    for run in runs:
        cpu = run.cpu_percent
        rows.append(
            (
                f"{run.peer} {run.version}",
                run.setup,
                f"{run.jobs_per_second:,.0f}",
                f"{run.enqueues_per_second:,.0f}",
                *(f"{cpu.get(role, 0.0):.0f}" for role in ("worker", "broker", "client")),
                "ERROR" if run.problems else "yes",
            )
        )
    return "Peers: a no-op task, one producer enqueueing one by one, one worker process\n" + (
        format_table(rows, left=2)
    )


def format_comparison(rows: list[EngineRow], runs: list[PeerRun], work: str) -> str:
    """activitylog (1 worker process) against each peer, with the issue's targets."""
    peer_bases = bases(runs)
    header: list[str] = ["activitylog, 1 worker process", "jobs/s"]
    for basis in peer_bases:
        source = "" if basis.measured else " ref"
        header += [
            f"vs {basis.peer} {basis.jobs_per_second:,.0f}/s{source}",
            f">= {basis.target:g}x",
        ]
    lines: list[tuple[str, ...]] = [tuple(header)]
    for row in rows:
        cells = [row.label, f"{row.jobs_per_second:,.0f}" + ("" if row.ok else " ERROR")]
        for basis in peer_bases:
            ratio = row.jobs_per_second / basis.jobs_per_second
            cells += [f"{ratio:.2f}x", "pass" if ratio >= basis.target else "miss"]
        lines.append(tuple(cells))
    title = f"activitylog ({work} jobs) against the peers"
    if not all(basis.measured for basis in peer_bases):
        title += " (ref: issue #7's figure, not measured in this run)"
    return title + "\n" + format_table(lines, left=1)


def comparison_figures(rows: list[EngineRow], runs: list[PeerRun]) -> dict[str, object]:
    peer_bases = bases(runs)
    return {
        "peers": [
            dataclasses.asdict(run) | {"jobs_per_second": run.jobs_per_second} for run in runs
        ],
        "activitylog_one_worker": [
            {
                "store": row.store,
                "in_flight": row.in_flight,
                "jobs_per_second": row.jobs_per_second,
                "against": {
                    basis.peer: {
                        "peer_jobs_per_second": basis.jobs_per_second,
                        "peer_measured": basis.measured,
                        "ratio": row.jobs_per_second / basis.jobs_per_second,
                        "target": basis.target,
                        "met": row.jobs_per_second / basis.jobs_per_second >= basis.target,
                    }
                    for basis in peer_bases
                },
            }
            for row in rows
        ],
    }
