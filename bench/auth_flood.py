"""Benchmark a flood of wrong passwords: a signed-in client's polls and new sign-ins, with and
without it, against one server in one run.

Seeds a small SQLite database and starts `activitylog serve` on loopback. Then, ``--rounds``
times, a segment without a flood and one with ``--connections`` connections sending wrong
passwords (a new one each time) for the polling client's own user name, from another loopback
address (``--flood-address``): interleaved, so that other work on the machine weighs on both
columns alike. Throughout, one client polls a RUNNING job every ``--interval`` ms with
credentials verified before the first segment; in the middle of each segment a user who has
never signed in sends a first request, one argon2 verify. Prints the client's latency and the
slowest sign-in with and without the flood, and their ratios.

    .venv/bin/python bench/auth_flood.py [--duration S] [--rounds N] [--connections N]
        [--ttl S] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import json
import os
import secrets
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from loopback_http import Connection, ProtocolError
from process_cpu import CpuMeter
from report import format_table, load_average, percentile, write_json
from seeding import SeededJobs, auth_headers, seed_jobs
from servers import LOOPBACK, activitylog_process, free_port

JOB_PATH = "/paas/api/v1.1/activitylog/{domain}/job/{job_id}"
USERS_PATH = "/paas/api/v1.1/activitylog/{domain}/users/{name}"
SIGN_IN_PASSWORD = "signInPassword1"  # noqa: S105 - a throwaway user on loopback
# A request still unanswered after this long is counted as this long, and as an error.
REQUEST_TIMEOUT = 60.0
CLIENT_P99_GOAL = 2.0
SIGN_IN_GOAL_MS = 1000.0


@dataclasses.dataclass(frozen=True, slots=True)
class Plan:
    duration: float
    """Seconds measured with the flood, and as many without it."""
    rounds: int
    connections: int
    interval: float
    flood_address: str
    settle: float
    """Seconds at the start of each segment that are not measured (the flood sets in, or its
    held requests drain)."""

    @property
    def segment(self) -> float:
        return self.duration / self.rounds


@dataclasses.dataclass(slots=True)
class Phase:
    name: str
    polls_ms: list[float] = dataclasses.field(default_factory=list)
    poll_errors: int = 0
    sign_ins_ms: list[float] = dataclasses.field(default_factory=list)
    sign_in_errors: int = 0
    flood_answers: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    seconds: float = 0.0
    cpu: list[dict[str, float]] = dataclasses.field(default_factory=list)
    """Per segment: % of one core used by the server ("api"), this script ("client"), and
    everything else on the machine ("rest")."""

    def cpu_percent(self, role: str) -> float:
        return sum(sample.get(role, 0.0) for sample in self.cpu) / max(len(self.cpu), 1)

    def client_p(self, fraction: float) -> float:
        return percentile(self.polls_ms, fraction)

    @property
    def slowest_sign_in(self) -> float:
        return max(self.sign_ins_ms, default=float("nan"))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds measured with each (20)"
    )
    parser.add_argument("--rounds", type=int, default=4, help="segments of each (4)")
    parser.add_argument("--connections", type=int, default=200, help="flood connections (200)")
    parser.add_argument("--interval", type=float, default=10.0, help="ms between polls (10)")
    parser.add_argument(
        "--flood-address", default="127.0.0.2", help="where the flood comes from (127.0.0.2)"
    )
    parser.add_argument(
        "--settle", type=float, default=2.0, help="seconds not measured a segment (2)"
    )
    parser.add_argument(
        "--ttl",
        type=float,
        default=5.0,
        help="the server's credential cache ttl, so that the polling client's entry expires "
        "during a phase (5; the server's default is 60)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_signal)  # unwind, so the server is stopped
    plan = Plan(
        options.duration,
        options.rounds,
        options.connections,
        options.interval / 1000,
        options.flood_address,
        options.settle,
    )
    load_at_start = load_average()
    with tempfile.TemporaryDirectory(prefix="activitylog-bench-") as directory:
        phases = run_benchmark(Path(directory), plan, options.ttl)
    print(format_results(phases))
    write_json(options.json, figures(phases, plan, options.ttl, load_at_start))
    return 0


def run_benchmark(work: Path, plan: Plan, ttl: float) -> list[Phase]:
    print("seeding ...", file=sys.stderr)
    seeded = seed_jobs(str(work / "activitylog.db"), 1000)
    env = {"ACTIVITYLOG_CREDENTIAL_CACHE_TTL": str(ttl)}
    arguments = ["--db", str(work / "activitylog.db"), "--no-worker"]
    port = free_port()
    with activitylog_process("serve", arguments, port, work / "activitylog.log", env):
        return asyncio.run(measure_phases(port, seeded, plan))


async def measure_phases(port: int, seeded: SeededJobs, plan: Plan) -> list[Phase]:
    new_users = [f"signin{n}@example.com" for n in range(2 * plan.rounds)]
    await add_users(port, seeded, new_users)
    path = JOB_PATH.format(domain=seeded.domain, job_id=seeded.running_job_id)
    poller = Poller(port, seeded.headers, path)
    if (await poller.get())[1] != 200:  # signed in: verified before the first segment
        raise RuntimeError(f"GET {path} as {seeded.user} did not answer 200")
    quiet, flooded = Phase("no flood"), Phase("flood")
    try:
        for number in range(plan.rounds):
            print(f"round {number + 1} of {plan.rounds}", file=sys.stderr)
            segment = Segment(port, seeded, plan, poller)
            await segment.run(quiet, new_users[2 * number], flood=False)
            await segment.run(flooded, new_users[2 * number + 1], flood=True)
    finally:
        await poller.close()
    return [quiet, flooded]


async def add_users(port: int, seeded: SeededJobs, names: list[str]) -> None:
    admin = await Connection.open(LOOPBACK, port, seeded.headers)
    body = json.dumps({"password": SIGN_IN_PASSWORD, "role": "viewer"}).encode()
    headers = {"Content-Type": "application/json"}
    for name in names:
        await admin.send("PUT", USERS_PATH.format(domain=seeded.domain, name=name), headers, body)
        answer = await admin.read_answer()
        if answer.status not in (200, 201):
            raise RuntimeError(f"adding {name} gave {answer.status}: {answer.body[:200]!r}")
    await admin.close()


class Poller:
    """The signed-in client: one keep-alive connection, opened again if the server closes it."""

    def __init__(self, port: int, headers: dict[str, str], path: str) -> None:
        self._port, self._headers, self.path = port, headers, path
        self._connection: Connection | None = None

    async def get(self) -> tuple[float, int]:
        """The poll's time in ms and its status (0: timed out, -1: connection closed)."""
        started = time.perf_counter()
        try:
            if self._connection is None:
                self._connection = await Connection.open(LOOPBACK, self._port, self._headers)
            return await timed_get(self._connection, self.path)
        except (ProtocolError, OSError):
            await self.close()
            return (time.perf_counter() - started) * 1000, -1

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
            self._connection = None


@dataclasses.dataclass(frozen=True, slots=True)
class Segment:
    port: int
    seeded: SeededJobs
    plan: Plan
    poller: Poller

    @property
    def path(self) -> str:
        return self.poller.path

    async def run(self, phase: Phase, new_user: str, *, flood: bool) -> None:
        """Polls and one sign-in for ``plan.segment`` seconds (after ``plan.settle``), into
        ``phase``; with the flood on, when ``flood``."""
        flooders = [
            asyncio.create_task(self.send_wrong_passwords(phase))
            for _ in range(self.plan.connections if flood else 0)
        ]
        try:
            started = time.perf_counter()  # for the flood's rate: settling included
            await asyncio.sleep(self.plan.settle)
            meter = CpuMeter({self.port: "api"}, None)
            meter.start()
            await asyncio.gather(self.poll(phase), self.sign_in(phase, new_user))
            phase.cpu.append(meter.stop())
            phase.seconds += time.perf_counter() - started
        finally:
            for task in flooders:
                task.cancel()
            await asyncio.gather(*flooders, return_exceptions=True)

    async def poll(self, phase: Phase) -> None:
        deadline = time.perf_counter() + self.plan.segment
        while time.perf_counter() < deadline:
            milliseconds, status = await self.poller.get()
            phase.polls_ms.append(milliseconds)
            phase.poll_errors += status != 200
            await asyncio.sleep(self.plan.interval)

    async def sign_in(self, phase: Phase, user: str) -> None:
        """The user's first request, in the middle of the segment."""
        await asyncio.sleep(self.plan.segment / 2)
        headers = auth_headers(user, SIGN_IN_PASSWORD, self.seeded.domain)
        sign_in = Poller(self.port, headers, self.path)
        try:
            milliseconds, status = await sign_in.get()
        finally:
            await sign_in.close()
        phase.sign_ins_ms.append(milliseconds)
        phase.sign_in_errors += status != 200

    async def send_wrong_passwords(self, phase: Phase) -> None:
        """One flood connection: wrong passwords for the polling client's user name, back to
        back, each a new one (the server shares one verify among identical credentials)."""
        tenant = {"X-ID-TENANT-NAME": self.seeded.domain}
        address = self.plan.flood_address
        while True:
            try:
                connection = await Connection.open(LOOPBACK, self.port, tenant, address)
            except OSError:
                phase.flood_answers["connect failed"] += 1
                await asyncio.sleep(0.1)
                continue
            try:
                while True:
                    password = secrets.token_hex(8)
                    wrong = auth_headers(self.seeded.user, password, self.seeded.domain)
                    answer = await connection.get(self.path, wrong)
                    phase.flood_answers[str(answer.status)] += 1
            except (ProtocolError, OSError):
                phase.flood_answers["closed"] += 1
            finally:
                await connection.close()


async def timed_get(connection: Connection, path: str) -> tuple[float, int]:
    """The GET's time in ms and its status (0 when it timed out)."""
    started = time.perf_counter()
    try:
        answer = await asyncio.wait_for(connection.get(path), REQUEST_TIMEOUT)
    except TimeoutError:
        return REQUEST_TIMEOUT * 1000, 0
    return (time.perf_counter() - started) * 1000, answer.status


def format_results(phases: list[Phase]) -> str:
    quiet, flooded = phases
    header = ("measure", quiet.name, flooded.name, "flood / no flood", "goal", "met")
    p99_ratio = flooded.client_p(0.99) / quiet.client_p(0.99)
    sign_in = flooded.slowest_sign_in
    rows = [
        header,
        _compare("client polls: p50 ms", quiet.client_p(0.50), flooded.client_p(0.50)),
        (
            *_compare("client polls: p99 ms", quiet.client_p(0.99), flooded.client_p(0.99))[:4],
            f"<= {CLIENT_P99_GOAL:g}x",
            _met(p99_ratio <= CLIENT_P99_GOAL),
        ),
        _compare("client polls: max ms", max(quiet.polls_ms), max(flooded.polls_ms)),
        ("client polls: count (errors)", *(_count(p.polls_ms, p.poll_errors) for p in phases)),
        (
            *_compare("new sign-in: slowest ms", quiet.slowest_sign_in, sign_in)[:4],
            f"<= {SIGN_IN_GOAL_MS:,.0f} ms",
            _met(sign_in <= SIGN_IN_GOAL_MS and flooded.sign_in_errors == 0),
        ),
        (
            "new sign-ins: count (errors)",
            *(_count(p.sign_ins_ms, p.sign_in_errors) for p in phases),
        ),
        *(
            (f"CPU, % of a core: {role}", *(f"{p.cpu_percent(role):.0f}" for p in phases))
            for role in ("api", "client", "rest")
        ),
        ("flood answers by status", "-", _answers(flooded), "", "", ""),
        ("flood requests/s", "-", f"{flooded.flood_answers.total() / flooded.seconds:,.0f}"),
    ]
    return format_table([_pad(row, len(header)) for row in rows])


def _compare(measure: str, quiet: float, flooded: float) -> tuple[str, ...]:
    return (measure, f"{quiet:,.2f}", f"{flooded:,.2f}", f"{flooded / quiet:.2f}x", "", "")


def _count(values: list[float], errors: int) -> str:
    return f"{len(values)} ({errors})"


def _answers(phase: Phase) -> str:
    return ", ".join(
        f"{status}: {count:,}" for status, count in sorted(phase.flood_answers.items())
    )


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def _pad(row: Sequence[str], width: int) -> tuple[str, ...]:
    return (*row, *([""] * (width - len(row))))


def figures(phases: list[Phase], plan: Plan, ttl: float, load_at_start: float) -> dict[str, object]:
    quiet, flooded = phases
    return {
        "benchmark": "auth_flood",
        "plan": dataclasses.asdict(plan),
        "credential_cache_ttl": ttl,
        "cpus": os.cpu_count(),
        "load_average_at_start": load_at_start,
        "phases": [
            {
                "name": phase.name,
                "client_p50_ms": phase.client_p(0.50),
                "client_p99_ms": phase.client_p(0.99),
                "client_max_ms": max(phase.polls_ms),
                "polls": len(phase.polls_ms),
                "poll_errors": phase.poll_errors,
                "sign_ins_ms": phase.sign_ins_ms,
                "sign_in_errors": phase.sign_in_errors,
                "flood_answers": dict(phase.flood_answers),
                "cpu_percent": {
                    role: phase.cpu_percent(role) for role in ("api", "client", "rest")
                },
            }
            for phase in phases
        ],
        "client_p99_ratio": flooded.client_p(0.99) / quiet.client_p(0.99),
        "client_p99_goal": CLIENT_P99_GOAL,
        "slowest_sign_in_ms": flooded.slowest_sign_in,
        "sign_in_goal_ms": SIGN_IN_GOAL_MS,
    }


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):  # the server was stopped on the way out
        sys.exit(main())
    sys.exit(130)
