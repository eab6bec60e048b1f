"""follow() is live: each message through the job's event stream as it is committed, resumed
with Last-Event-ID when the connection drops, and by polling where there is no stream."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import httpx
import pytest

from activitylog.client import ActivityMessage, AsyncClient, Client, WaitTimeout
from tests.client.conftest import DOMAIN, PASSWORD, USER
from tests.e2e.conftest import RunningServer, StartServer

# The case: messages committed 0.5 s apart.
STEP_DELAY = "0.5"
LIVE = dt.timedelta(milliseconds=50)


@pytest.fixture
def paced_server(start_server: StartServer) -> RunningServer:
    return start_server("--demo", "--db", "paced.db", "--demo-step-delay", STEP_DELAY)


def connect(server: RunningServer, transport: httpx.BaseTransport | None = None) -> Client:
    # The default poll interval (1 s): what a follow paced by polls would be late by.
    return Client(
        server.url, user=USER, password=PASSWORD, identity_domain=DOMAIN, transport=transport
    )


def lateness(
    received: list[tuple[ActivityMessage, dt.datetime]], asked: dt.datetime
) -> list[dt.timedelta]:
    """How long after its commit (or after the follow began, for one committed before) each
    message arrived; the server's clock is this machine's."""
    return [at - max(message.date, asked) for message, at in received]


def test_follow_sees_each_message_within_50_ms_of_its_commit(paced_server: RunningServer) -> None:
    with connect(paced_server) as client:
        submission = client.create("caching", "Live")
        warm_up(client.follow(submission.job_id))
        asked = dt.datetime.now(dt.UTC)
        received = [(m, dt.datetime.now(dt.UTC)) for m in client.follow(submission.job_id)]
        ended = client.get_job(submission.job_id)
    assert [message for message, _ in received] == list(ended.messages)
    assert len(received) >= 6
    assert max(lateness(received, asked)) < LIVE, lateness(received, asked)


@pytest.mark.anyio
async def test_async_follow_is_live_too(paced_server: RunningServer) -> None:
    async with AsyncClient(
        paced_server.url, user=USER, password=PASSWORD, identity_domain=DOMAIN
    ) as client:
        submission = await client.create("caching", "AsyncLive")
        async for _ in client.follow(submission.job_id):
            break  # the server's first stream since it started: see warm_up
        asked = dt.datetime.now(dt.UTC)
        received = [(m, dt.datetime.now(dt.UTC)) async for m in client.follow(submission.job_id)]
        ended = await client.get_job(submission.job_id)
    assert [message for message, _ in received] == list(ended.messages)
    assert max(lateness(received, asked)) < LIVE, lateness(received, asked)


def warm_up(messages: Iterator[ActivityMessage]) -> None:
    """Take a message and hang up: a server's first event stream since it started takes some
    90 ms more to open (its code paths warming up), which is not what these tests measure."""
    next(messages)


class Recording(httpx.HTTPTransport):
    """The real network transport, noting each request's path and Last-Event-ID."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[str, str | None]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append((request.url.path, request.headers.get("Last-Event-ID")))
        return super().handle_request(request)

    def stream_requests(self) -> list[str | None]:
        return [last_id for path, last_id in self.requests if path.endswith("/events")]


class _CutAfterMessages(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, messages: int) -> None:
        self._stream = stream
        self._messages = messages

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._stream:
            yield chunk
            seen += chunk.count(b"event: message")
            if seen >= self._messages:
                raise httpx.RemoteProtocolError("peer closed connection (cut by the test)")

    def close(self) -> None:
        self._stream.close()


class DropsFirstStream(Recording):
    """Cuts the first event stream after two messages, as a flaky network or proxy would."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if len(self.stream_requests()) == 1 and request.url.path.endswith("/events"):
            assert isinstance(response.stream, httpx.SyncByteStream)
            response.stream = _CutAfterMessages(response.stream, messages=2)
        return response


def test_a_dropped_stream_resumes_after_the_last_message(paced_server: RunningServer) -> None:
    transport = DropsFirstStream()
    with connect(paced_server, transport) as client:
        submission = client.create("caching", "Dropped")
        followed = list(client.follow(submission.job_id, timeout=30))
        ended = client.get_job(submission.job_id)
    assert followed == list(ended.messages)  # each once, in order
    assert transport.stream_requests()[:2] == [None, "2"]
    polls = [path for path, _ in transport.requests if path.endswith(f"/job/{ended.job_id}")]
    assert len(polls) == 2  # the job as it ended, then get_job: the messages came by stream


class NoEventRoute(Recording):
    """A server without the event stream (PSM, an older activitylog): 404 on the route."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events"):
            self.requests.append((request.url.path, request.headers.get("Last-Event-ID")))
            return httpx.Response(404, json={"status": "404", "details": {"message": "No."}})
        return super().handle_request(request)


def test_without_a_stream_follow_polls(server: RunningServer) -> None:
    transport = NoEventRoute()
    with connect(server, transport) as client:
        submission = client.create("caching", "Polled")
        poller = client.poller(submission.job_id)
        first = list(poller.follow(timeout=30))
        again = list(poller.follow(since=1, timeout=30))
        ended = client.get_job(submission.job_id)
    assert first == list(ended.messages)
    assert again == list(ended.messages[1:])
    assert transport.stream_requests() == [None]  # asked once, then remembered


def test_follow_times_out_while_the_stream_is_quiet(paced_server: RunningServer) -> None:
    with connect(paced_server) as client:
        submission = client.create("caching", "Slow")
        started = time.monotonic()
        with pytest.raises(WaitTimeout):
            list(client.follow(submission.job_id, timeout=0.3))
    assert time.monotonic() - started < 1.0
