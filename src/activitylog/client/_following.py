"""Following a job's messages live: through its event stream, or by polling where there is none.

The stream (``GET {job URL}/events``, our extension to PSM) sends each message as it is
committed, numbered from 1. A dropped connection, or the server's end of a long stream, is
picked up with ``Last-Event-ID``: the number of messages emitted, so none comes twice and none
is skipped. A server without the route (PSM answers 404) or that answers something other than
an event stream is followed by polling from where the stream stopped, and remembered as such.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx

from activitylog.client._errors import TransportError
from activitylog.client._models import ActivityMessage, Job
from activitylog.client._polling import (
    Deadline,
    PollSettings,
    PollState,
    follow_by_polling,
    poll_once,
    seen_job,
    timed_out,
)
from activitylog.client._retry import RETRYABLE_STATUSES
from activitylog.client._sse import EventStreamParser, ServerSentEvent
from activitylog.client._steps import (
    CloseStream,
    Emit,
    Flow,
    OpenStream,
    ReadStream,
    Sleep,
    bytes_read,
    raise_for_status,
    response_to,
)
from activitylog.client._wire import decode_event_message

EVENT_STREAM = "text/event-stream"
# Answers meaning "no event stream here": an older activitylog or Oracle's PSM (404), or a
# proxy that refuses the method or the media type.
_NO_STREAM_STATUSES = frozenset({404, 405, 406, 501})
# The server sends a keep-alive comment every 15 s while a job is idle: a stream silent for
# this long has died on the way, and is reconnected.
_LONGEST_SILENCE = 35.0


@dataclasses.dataclass(slots=True)
class _Progress:
    emitted: int  # messages emitted (or skipped by ``since``): the stream's Last-Event-ID
    ended: bool = False
    failures: int = 0  # connection attempts failed in a row


def follow(
    settings: PollSettings, state: PollState, since: int, timeout: float | None
) -> Flow[Job]:
    """Emit each ActivityMessage after the first ``since``, in order, until the job ends."""
    if (state.job is not None and state.job.ended) or not state.events_route:
        return (yield from follow_by_polling(settings, state, since, timeout))
    deadline = Deadline(timeout)
    progress = _Progress(since)
    while not progress.ended:
        try:
            streamed = yield from _stream_messages(settings, state, progress, deadline)
        except TransportError as failure:
            streamed = yield from _after_failure(settings, state, progress, deadline, failure)
        if not streamed:
            state.events_route = False
            return (yield from follow_by_polling(settings, state, progress.emitted, timeout))
    yield from poll_once(settings, state)  # the job as it ended, for the caller and the poller
    return seen_job(state)


def _stream_messages(
    settings: PollSettings, state: PollState, progress: _Progress, deadline: Deadline
) -> Flow[bool]:
    """Emit messages from one connection to the stream, until the job ends or the stream does;
    False when the server has no stream for the job."""
    opening = OpenStream(_stream_request(settings, state, progress.emitted, deadline))
    response = response_to(opening, (yield opening))
    retryable = response.status_code in RETRYABLE_STATUSES
    if retryable and progress.failures < settings.retry.max_retries:
        yield from _pause(settings, progress, deadline, response.headers.get("Retry-After"))
        return True
    if response.status_code in _NO_STREAM_STATUSES or not _is_event_stream(response):
        yield CloseStream()
        return False
    raise_for_status(response)
    parser = EventStreamParser()
    while chunk := bytes_read((yield ReadStream())):
        for message in _messages(parser.feed(chunk), progress):
            yield Emit(message)
        if progress.ended:
            return True
        if deadline.expired():
            raise timed_out(state, deadline.timeout)
    return True  # the server ended the stream (it lives 600 s at most): reconnect


def _messages(events: list[ServerSentEvent], progress: _Progress) -> Iterator[ActivityMessage]:
    for event in events:
        progress.failures = 0
        if event.event == "end":
            progress.ended = True
        elif event.event == "message" and _position(event) > progress.emitted:
            progress.emitted = _position(event)
            yield decode_event_message(event.data)


def _position(event: ServerSentEvent) -> int:
    return int(event.id) if event.id.isdigit() else 0


def _after_failure(
    settings: PollSettings,
    state: PollState,
    progress: _Progress,
    deadline: Deadline,
    failure: TransportError,
) -> Flow[bool]:
    """After a connection failed or dropped: time out, give up, or pause before reconnecting."""
    if deadline.expired():
        raise timed_out(state, deadline.timeout) from failure
    if progress.failures >= settings.retry.max_retries:
        raise failure
    yield from _pause(settings, progress, deadline, None)
    return True


def _pause(
    settings: PollSettings, progress: _Progress, deadline: Deadline, retry_after: str | None
) -> Flow[None]:
    pause = deadline.cap(settings.retry.delay(retry_after, progress.failures))
    progress.failures += 1
    if pause > 0:
        yield Sleep(pause)


def _stream_request(
    settings: PollSettings, state: PollState, emitted: int, deadline: Deadline
) -> httpx.Request:
    headers = {"Accept": EVENT_STREAM, "Cache-Control": "no-cache"}
    if emitted:
        headers["Last-Event-ID"] = str(emitted)
    # Reads time out at the caller's deadline, or when the stream has gone silent.
    silence = max(deadline.cap(_LONGEST_SILENCE), 0.001)
    return settings.build_request(
        "GET",
        f"{state.url.rstrip('/')}/events",
        headers=headers,
        timeout=httpx.Timeout(settings.timeout, read=silence),
    )


def _is_event_stream(response: httpx.Response) -> bool:
    if response.status_code != 200:
        return True  # an error answer: raise_for_status reports it
    content_type: str = response.headers.get("Content-Type", "")
    return content_type.partition(";")[0].strip().lower() == EVENT_STREAM
