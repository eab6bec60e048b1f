"""Polling degrades to plain polling: optional savings are offered, and any full body is taken."""

from __future__ import annotations

import datetime as dt

import httpx

from activitylog.client import ActivityMessage, Client
from activitylog.client._polling import merge_messages
from tests.client.conftest import DOMAIN, PASSWORD, USER
from tests.e2e.conftest import RunningServer

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def messages(*texts: str) -> tuple[ActivityMessage, ...]:
    return tuple(
        ActivityMessage(T0 + dt.timedelta(milliseconds=n), text) for n, text in enumerate(texts)
    )


A, B, C, D = messages("a", "b", "c", "d")


def test_a_full_list_gives_the_messages_after_those_known() -> None:
    assert merge_messages((A, B), (A, B, C, D), asked_since=True) == ((A, B, C, D), (C, D))
    assert merge_messages((A, B), (A, B, C), asked_since=False) == ((A, B, C), (C,))
    assert merge_messages((), (A,), asked_since=False) == ((A,), (A,))
    assert merge_messages((A, B), (A, B), asked_since=True) == ((A, B), ())


def test_a_tail_is_appended_to_the_messages_known() -> None:
    assert merge_messages((A, B), (C, D), asked_since=True) == ((A, B, C, D), (C, D))
    assert merge_messages((A, B), (), asked_since=True) == ((A, B), ())
    assert merge_messages((A, B, C), (D,), asked_since=True) == ((A, B, C, D), (D,))


class RecordingTransport(httpx.HTTPTransport):
    """The real network transport, noting each request and answer status on the way."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[tuple[httpx.Request, int]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        self.exchanges.append((request, response.status_code))
        return response


def test_polls_offer_the_optional_parameters_and_accept_any_answer(
    server: RunningServer,
) -> None:
    recorder = RecordingTransport()
    with Client(
        server.url,
        user=USER,
        password=PASSWORD,
        identity_domain=DOMAIN,
        poll_interval=0.02,
        long_poll=5,
        transport=recorder,
    ) as client:
        submission = client.create("caching", "Recorded")
        watched = client.watch(submission.job_id, timeout=30)  # polls (follow() streams)
        followed = [message for update in watched for message in update.new_messages]
        ended = client.get_job(submission.job_id)
        poller = client.poller(submission.job_id)
        assert poller.poll() == ended
        assert poller.poll() == ended  # a 304 or an identical full body: unchanged either way
    assert followed == list(ended.messages)

    polls = [
        (request, status) for request, status in recorder.exchanges if "/job/" in request.url.path
    ]
    assert all(status in {200, 304} for _, status in polls)
    watch_polls = [request for request, _ in polls[:-3]]  # then get_job, and two poller.poll()
    first, *later = watch_polls
    assert not {"sinceMessage", "wait"} & set(first.url.params)
    assert "If-None-Match" not in first.headers
    assert later, "the job ended before a second poll"
    for request in later:
        assert request.url.params["sinceMessage"].isdigit()
        assert 1 <= int(request.url.params["wait"]) <= 5
    last_poll = polls[-1][0]
    assert last_poll.url.params["sinceMessage"] == str(len(ended.messages))
    assert "wait" not in last_poll.url.params  # a single poll() never asks the server to hold it
