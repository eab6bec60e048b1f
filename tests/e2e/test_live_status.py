"""Live status from real servers on loopback: event streams read as they arrive, long-polls woken
by another process through PostgreSQL, and streams that end when the server is stopped."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import anyio
import httpx
import pytest

from tests.conftest import basic_auth, metric_value
from tests.e2e.conftest import RunningServer, StartServer, StartWorker

pytestmark = pytest.mark.e2e
DOMAIN = "ExampleIdentityDomain"
AUTH = ("joe@example.com", "joePassword")
CACHING = f"/paas/api/v1.1/instancemgmt/{DOMAIN}/services/caching/instances"
ACTIVITY_LOG = f"/paas/api/v1.1/activitylog/{DOMAIN}"
# A stream that stays silent this long has stalled: fail rather than wait for the test timeout.
READ_TIMEOUT = httpx.Timeout(10.0, read=10.0)


@dataclasses.dataclass(frozen=True)
class Event:
    kind: str
    id: str
    data: dict[str, Any]
    arrived: float
    """time.monotonic() when its blank line was read."""


def read_events(lines: Iterator[str]) -> Iterator[Event]:
    """The events of a text/event-stream, each as soon as its last line is read."""
    fields: dict[str, str] = {}
    for line in lines:
        if line:
            if not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
            continue
        if fields:
            yield Event(fields["event"], fields["id"], json.loads(fields["data"]), time.monotonic())
        fields = {}


def client_for(server: RunningServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, auth=AUTH, timeout=READ_TIMEOUT)


def create_cache(client: httpx.Client, name: str) -> str:
    """Submit a demo cache; the job's path."""
    answer = client.post(CACHING, json={"serviceParameters": {"serviceName": name}})
    assert answer.status_code == 202, answer.text
    return f"{ACTIVITY_LOG}/job/{answer.json()['details']['jobId']}"


def wait_for(client: httpx.Client, path: str, messages: int) -> dict[str, Any]:
    """The job once it has at least ``messages`` messages."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(path).json()
        if len(job["messages"]) >= messages:
            return job
        time.sleep(0.02)
    raise AssertionError(f"{path} never reached {messages} messages")


def message_texts(job: dict[str, Any]) -> list[str]:
    return [message["message"] for message in job["messages"]]


def test_job_stream_arrives_while_the_job_runs_and_resumes_after_last_event_id(
    start_server: StartServer,
) -> None:
    server = start_server("--demo", "--demo-step-delay", "0.2", "--log-level", "warning")
    with client_for(server) as client, client_for(server) as other:
        path = create_cache(client, "Streamed")
        first: list[Event] = []
        with client.stream("GET", f"{path}/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            for event in read_events(stream.iter_lines()):
                first.append(event)
                if event.kind == "message" and event.id == "3":
                    # Seen as it happened: the job has four more steps to go.
                    assert other.get(path).json()["status"] == "RUNNING"
                    break
        with client.stream("GET", f"{path}/events", headers={"Last-Event-ID": "3"}) as stream:
            rest = list(read_events(stream.iter_lines()))
        job = client.get(path).json()

    assert job["status"] == "SUCCEED"
    messages = [e for e in [*first, *rest] if e.kind == "message"]
    assert [int(e.id) for e in messages] == list(range(1, len(job["messages"]) + 1))
    assert [e.data["message"] for e in messages] == message_texts(job)
    assert rest[-1].kind == "end"
    assert rest[-1].data["status"] == "SUCCEED"
    assert [e.kind for e in rest].count("end") == 1
    # Four step delays passed between message 3 and the end: the events did not come in a heap.
    assert rest[-1].arrived - first[-1].arrived > 0.5


@pytest.mark.postgres
def test_long_poll_on_one_process_is_woken_by_a_worker_process(
    start_server: StartServer, start_worker: StartWorker, postgres_url: str
) -> None:
    api = start_server("--db", postgres_url, "--no-worker", "--demo", "--log-level", "warning")
    start_worker("--db", postgres_url, "--demo-step-delay", "1", "--log-level", "warning")
    with client_for(api) as client:
        path = create_cache(client, "Polled")
        wait_for(client, path, messages=3)  # running: one step done, four to come
        held = client.get(path)
        long_poll = httpx.Timeout(10.0, read=45.0)  # the deadline below is the real bound
        for _ in range(2):
            started = time.monotonic()
            answer = client.get(
                path,
                params={"wait": 30},
                headers={"If-None-Match": held.headers["etag"]},
                timeout=long_poll,
            )
            elapsed = time.monotonic() - started
            # Only the worker process writes; only its NOTIFY can answer this before 30 s.
            assert elapsed < 5, elapsed
            assert answer.status_code == 200
            assert answer.headers["etag"] != held.headers["etag"]
            assert len(answer.json()["messages"]) > len(held.json()["messages"])
            held = answer
        # The second poll was sent right after a change: it waited for the worker's next step.
        assert elapsed > 0.3, elapsed


@pytest.mark.postgres
def test_job_stream_on_one_process_sees_another_processes_messages(
    start_server: StartServer, start_worker: StartWorker, postgres_url: str
) -> None:
    api = start_server("--db", postgres_url, "--no-worker", "--demo", "--log-level", "warning")
    start_worker("--db", postgres_url, "--demo-step-delay", "0.2", "--log-level", "warning")
    with client_for(api) as client:
        path = create_cache(client, "Relayed")
        with client.stream("GET", f"{path}/events") as stream:
            events = list(read_events(stream.iter_lines()))
        job = client.get(path).json()

    messages = [e for e in events if e.kind == "message"]
    assert [e.data["message"] for e in messages] == message_texts(job)
    assert [int(e.id) for e in messages] == list(range(1, len(job["messages"]) + 1))
    assert events[-1].kind == "end"
    assert events[-1].data["status"] == "SUCCEED"
    # The steps arrived one by one, as the worker process wrote them.
    assert messages[-1].arrived - messages[2].arrived > 0.5


@pytest.mark.postgres
def test_domain_stream_on_one_process_sees_jobs_submitted_through_another(
    start_server: StartServer, postgres_url: str
) -> None:
    watched = start_server("--db", postgres_url, "--no-worker", "--demo", "--log-level", "warning")
    busy = start_server(
        "--db", postgres_url, "--demo", "--demo-step-delay", "0.1", "--log-level", "warning"
    )
    with client_for(watched) as client, client_for(busy) as other:
        events: list[Event] = []
        with client.stream("GET", f"{ACTIVITY_LOG}/events") as stream:
            lines = stream.iter_lines()
            assert next(lines) == ": watching"
            path = create_cache(other, "Elsewhere")
            job_id = int(path.rsplit("/", 1)[1])
            for event in read_events(lines):
                events.append(event)
                if event.data["status"] == "SUCCEED":
                    break

    assert {event.data["jobId"] for event in events} == {job_id}
    assert all(event.kind == "job" for event in events)
    assert events[0].data["serviceName"] == "Elsewhere"
    assert events[-1].data["lastMessage"]["message"] == "Activity Ended"
    versions = [int(event.id.split(".")[1]) for event in events]
    assert versions == sorted(versions)  # a change may be read twice, never out of order


@pytest.mark.parametrize("http_server", ["granian", "uvicorn"])
def test_streams_end_and_the_server_exits_on_sigterm(
    start_server: StartServer, http_server: str
) -> None:
    # The running job's handler gets one second to end on SIGTERM before it is released.
    server = start_server(
        "--server",
        http_server,
        "--demo",
        "--demo-step-delay",
        "30",
        "--log-level",
        "warning",
        "--shutdown-grace",
        "1",
    )
    with client_for(server) as client, client_for(server) as watcher:
        path = create_cache(client, "Interrupted")
        wait_for(client, path, messages=2)
        with (
            client.stream("GET", f"{path}/events") as job_stream,
            watcher.stream("GET", f"{ACTIVITY_LOG}/events") as domain_stream,
        ):
            job_events = read_events(job_stream.iter_lines())
            assert next(job_events).kind == "message"
            domain_lines = domain_stream.iter_lines()
            assert next(domain_lines) == ": watching"

            server.process.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            # Both end with a clean end of stream: iterating them to the end raises nothing.
            rest = list(job_events)
            list(domain_lines)
            closed = time.monotonic() - stopped

    assert "end" not in [event.kind for event in rest]  # the job did not end; the server did
    assert closed < 5, closed
    try:
        server.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server did not exit within 5 s of SIGTERM:\n{server.log()}")
    # uvicorn raises the signal again once it has shut down, to exit the way it was asked to.
    expected = -signal.SIGTERM if http_server == "uvicorn" else 0
    assert server.process.returncode == expected, server.log()


def test_hundreds_of_waiters_leave_room_for_other_requests(start_server: StartServer) -> None:
    """Each long-poll holds a request open: the server must not cap them at a small number."""
    server = start_server("--demo", "--demo-step-delay", "30", "--log-level", "warning")
    with client_for(server) as client:  # also puts the password in the credential cache
        path = create_cache(client, "Watched")
        wait_for(client, path, messages=2)
        etag = client.get(path).headers["etag"]

    async def hold_waiters_and_ask(waiters: int) -> None:
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
        async with httpx.AsyncClient(
            base_url=server.url, auth=AUTH, limits=limits, timeout=READ_TIMEOUT
        ) as clients:
            held = {"If-None-Match": etag}
            polls = [
                asyncio.create_task(clients.get(path, params={"wait": 20}, headers=held))
                for _ in range(waiters)
            ]
            await asyncio.sleep(1.0)  # every long-poll sent, and waiting
            with anyio.fail_after(5):
                answer = await clients.get(path)
            assert answer.status_code == 200
            assert not any(poll.done() for poll in polls)
            for poll in polls:
                poll.cancel()
            await asyncio.gather(*polls, return_exceptions=True)

    asyncio.run(hold_waiters_and_ask(300))


def long_polls_waiting(client: httpx.Client) -> float:
    return metric_value(client.get("/metrics").text, "activitylog_long_polls_waiting")


def test_a_long_poll_whose_client_hangs_up_is_let_go_at_once(start_server: StartServer) -> None:
    server = start_server("--demo", "--demo-step-delay", "30", "--log-level", "warning")
    with client_for(server) as client:
        path = create_cache(client, "Abandoned")
        wait_for(client, path, messages=2)
        etag = client.get(path).headers["etag"]
        request = (
            f"GET {path}?wait=60 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: {basic_auth(*AUTH)}\r\nIf-None-Match: {etag}\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", server.port)) as hung_up:
            hung_up.sendall(request.encode())
            deadline = time.monotonic() + 5
            while long_polls_waiting(client) < 1 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert long_polls_waiting(client) == 1
        hung_up_at = time.monotonic()
        while long_polls_waiting(client) > 0 and time.monotonic() < hung_up_at + 5:
            time.sleep(0.05)
        assert long_polls_waiting(client) == 0  # not at the 60 s deadline
        # Only the wait ended: the job goes on.
        assert client.get(path).json()["status"] == "RUNNING"
