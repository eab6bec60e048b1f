"""engine_throughput.py's load: creates posted over HTTP, then every job read back.

The submitters speak HTTP/1.1 on bare asyncio streams (loopback_http.py), one request in
flight per connection; the waiting and the reading back use httpx, a few requests in all.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import urllib.parse
from typing import Any

import httpx

from activitylog.client import paths
from activitylog.client._api import NO_DELAY
from activitylog.demo import DEMO_DOMAIN, DEMO_PASSWORD, DEMO_USER
from loopback_http import Connection, ProtocolError
from process_cpu import CpuMeter
from seeding import auth_headers

FILTER_PATH = paths.filter_path(DEMO_DOMAIN)
AUTH = (DEMO_USER, DEMO_PASSWORD)
HEADERS = auth_headers(DEMO_USER, DEMO_PASSWORD, DEMO_DOMAIN) | {"Content-Type": "application/json"}
PAGE_SIZE = 1000  # the filter's largest page
POLL_SECONDS = 0.2
SUBMIT_ATTEMPTS = 20


class BenchmarkFailed(RuntimeError):
    """A submission was refused for good, or the set-up could not be built."""


@dataclasses.dataclass(frozen=True, slots=True)
class Work:
    """What each job does: the service type its creates go to, and the messages it leaves."""

    service_type: str
    messages_per_job: int
    size: str | None
    """The create's `size` parameter, if its service type takes one."""

    @property
    def create_path(self) -> str:
        return paths.instances_path(DEMO_DOMAIN, self.service_type)


WORKS = {
    # bench/noop_handlers.py: Submitted, Started, Ended.
    "noop": Work("noop", 3, None),
    # The built-in demo: Submitted, Started, the five steps of a `caching` create, Ended.
    "demo": Work("caching", 8, "1"),
}


@dataclasses.dataclass(frozen=True, slots=True)
class Window:
    """What happened between the first submission and the moment every job had ended."""

    submitted_at: float
    """Epoch seconds, just before the first request."""
    last_accepted_at: float
    """Epoch seconds, when the last 202 arrived."""
    retries: int
    """Submissions answered 503 (or not at all) and sent again."""
    cpu_percent: dict[str, float]
    """Role to CPU time over the window, in % of one core."""
    jobs: list[dict[str, Any]]
    timed_out: bool


async def measure(
    api: str, in_flight: int, work: Work, operations: int, timeout: float, meter: CpuMeter
) -> Window:
    """Submit ``operations`` creates, ``in_flight`` at once, wait for every job to end, then
    read them all back."""
    in_flight = min(in_flight, operations)
    async with _client(api) as reader:
        # One request first: the argon2 check of the password is then cached (60 s), as in
        # any steady state, instead of 32 first requests each paying ~180 ms of CPU for it.
        await count_jobs(reader, "SUCCEED")
        meter.start()
        submitted_at = time.time()
        retries = await submit_all(api, in_flight, work, operations)
        last_accepted_at = time.time()
        timed_out = not await wait_until_ended(reader, operations, timeout)
        cpu_percent = meter.stop()
        jobs = await fetch_all_jobs(reader)
    return Window(submitted_at, last_accepted_at, retries, cpu_percent, jobs, timed_out)


def _client(api: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=api,
        auth=AUTH,
        timeout=60,
        trust_env=False,  # loopback only, whatever proxy the environment names
        transport=httpx.AsyncHTTPTransport(socket_options=NO_DELAY),  # else 40 ms per POST
    )


async def submit_all(api: str, in_flight: int, work: Work, operations: int) -> int:
    """Create ``operations`` instances with unique names, ``in_flight`` connections each with
    one request at a time; how many submissions had to be sent again.

    The submitters speak HTTP/1.1 on bare asyncio streams (loopback_http.py): httpx spent
    ~0.5 ms of CPU per POST, so on 2 cores the load generator was using most of a core and
    limiting what it measured."""
    url = urllib.parse.urlsplit(api)
    indexes = iter(range(operations))
    retries = 0

    async def submitter() -> None:
        nonlocal retries
        submitter = Submitter(url.hostname or "", url.port or 0, work)
        try:
            for index in indexes:  # shared: each index is taken by one submitter only
                retries += await submitter.submit(f"bench{index:06d}")
        finally:
            await submitter.close()

    async with asyncio.TaskGroup() as group:
        for _ in range(in_flight):
            group.create_task(submitter())
    return retries


class Submitter:
    """One keep-alive connection posting creates, opened again when the server drops it."""

    def __init__(self, host: str, port: int, work: Work) -> None:
        self._host, self._port, self._work = host, port, work
        self._connection: Connection | None = None

    async def submit(self, name: str) -> int:
        """POST one create until it is accepted; how many times it was sent again."""
        parameters = {"serviceName": name} | ({"size": self._work.size} if self._work.size else {})
        body = json.dumps({"serviceParameters": parameters}).encode()
        for attempt in range(SUBMIT_ATTEMPTS):
            try:
                if self._connection is None:
                    self._connection = await Connection.open(self._host, self._port, HEADERS)
                answer = await self._connection.post(self._work.create_path, body)
            except (OSError, asyncio.IncompleteReadError, ProtocolError):
                await self.close()
                await asyncio.sleep(0.1)
                continue
            if answer.status == 202:
                return attempt
            if answer.status != 503:
                text = answer.body[:300].decode(errors="replace")
                raise BenchmarkFailed(f"create {name}: {answer.status} {text}")
            await asyncio.sleep(min(float(answer.headers.get("retry-after", "0.1")), 1.0))
        raise BenchmarkFailed(f"create {name}: not accepted after {SUBMIT_ATTEMPTS} attempts")

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()


async def wait_until_ended(client: httpx.AsyncClient, operations: int, timeout: float) -> bool:
    """Poll until every job has SUCCEEDed (True), one has ended otherwise, or time is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await count_jobs(client, "SUCCEED") >= operations:
            return True
        if await count_jobs(client, "FAILED,WARN") > 0:
            return True  # no point waiting: the verification reports it
        # Another process changes the jobs: no local event could tell us sooner.
        await asyncio.sleep(POLL_SECONDS)
    return False


async def count_jobs(client: httpx.AsyncClient, statuses: str) -> int:
    answer = await client.get(FILTER_PATH, params={"status": statuses, "limit": 0})
    answer.raise_for_status()
    return int(answer.json()["totalCount"])


async def fetch_all_jobs(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    while True:
        params: dict[str, str | int] = {
            "limit": PAGE_SIZE,
            "offset": len(jobs),
            "orderBy": "jobId:asc",
        }
        answer = await client.get(FILTER_PATH, params=params)
        answer.raise_for_status()
        page: list[dict[str, Any]] = answer.json()["activityLogs"]
        jobs.extend(page)
        if len(page) < PAGE_SIZE:
            return jobs
