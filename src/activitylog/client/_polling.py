"""Following one job: plain polling, made cheaper by whatever the server turns out to support.

Every poll is a ``GET`` of the job URL, and a full job body is always accepted. On top of that
a poll offers the server three optional savings, and copes when it ignores them:

- ``If-None-Match`` with the last ``ETag`` (only once the server has sent one): 304 means
  "unchanged";
- ``?sinceMessage=K``, K being the number of messages already seen: the server may answer with
  only the messages after the first K, or with all of them (told apart by their prefix);
- ``?wait=N``: the server may hold the request up to N seconds, until the job changes.

A 400 answer to a poll that carried the optional parameters turns them off for this job and
repeats the poll without them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterator

import httpx
import msgspec

from activitylog.client._errors import WaitTimeout
from activitylog.client._models import ActivityMessage, Job, JobUpdate
from activitylog.client._retry import RetryPolicy
from activitylog.client._steps import Emit, Flow, Sleep, exchange, map_emits, raise_for_status
from activitylog.client._wire import decode_job

BuildRequest = Callable[..., httpx.Request]
# An unchanged answer to ?wait=N that took this long was held by the server, not just slow.
_HELD_SECONDS = 0.9
Messages = tuple[ActivityMessage, ...]


@dataclasses.dataclass(slots=True)
class PollState:
    """What a poller knows about its job between polls."""

    url: str
    job_id: int
    job: Job | None = None
    etag: str | None = None
    send_optional_parameters: bool = True
    events_route: bool = True  # False once the server showed it has no job event stream


@dataclasses.dataclass(frozen=True, slots=True)
class PollSettings:
    build_request: BuildRequest
    retry: RetryPolicy
    timeout: float  # the read timeout of one ordinary request
    poll_interval: float
    long_poll: float  # the most seconds to ask the server to hold a poll (0: never ask)

    def paced(self, poll_interval: float | None) -> PollSettings:
        """These settings, with ``poll_interval`` instead when one is given."""
        if poll_interval is None:
            return self
        return dataclasses.replace(self, poll_interval=poll_interval)


def poll_once(settings: PollSettings, state: PollState, hold: int = 0) -> Flow[JobUpdate | None]:
    """One poll; the update it brings, or None when the job is unchanged."""
    known = state.job.messages if state.job else ()
    params, headers = _optional_parameters(state, len(known), hold)
    read_timeout = settings.timeout + params.get("wait", 0)
    request = settings.build_request(
        "GET",
        state.url,
        params=params,
        headers=headers,
        timeout=httpx.Timeout(settings.timeout, read=read_timeout),
    )
    response = yield from exchange(request, settings.retry)
    if response.status_code == 400 and (params or headers):
        state.send_optional_parameters = False
        return (yield from poll_once(settings, state))
    if response.status_code == 304:
        return None
    received = decode_job(raise_for_status(response).content)
    state.etag = response.headers.get("ETag")
    messages, new = merge_messages(known, received.messages, asked_since="sinceMessage" in params)
    job = msgspec.structs.replace(received, messages=messages)
    if job == state.job:
        return None
    state.job = job
    return JobUpdate(job, new)


def _optional_parameters(
    state: PollState, known_count: int, hold: int
) -> tuple[dict[str, int], dict[str, str]]:
    params: dict[str, int] = {}
    headers: dict[str, str] = {}
    if state.job is None or not state.send_optional_parameters:
        return params, headers
    if known_count:
        params["sinceMessage"] = known_count
    if hold >= 1:
        params["wait"] = hold
    if state.etag:
        headers["If-None-Match"] = state.etag
    return params, headers


def merge_messages(
    known: Messages, received: Messages, *, asked_since: bool
) -> tuple[Messages, Messages]:
    """All the messages now, and the new ones: ``received`` is either every message or a tail."""
    is_full_list = len(received) >= len(known) and received[: len(known)] == known
    if not asked_since or is_full_list:
        return received, received[len(known) :]
    return known + received, received


def watch(settings: PollSettings, state: PollState, timeout: float | None) -> Flow[Job]:
    """Poll until the job ends, emitting a JobUpdate on each change; return the final job.

    The poll that shows the job ended is the last: nothing is slept after it. Each poll after
    the first asks the server to hold it until the job changes, so one that brought a change,
    or that the server held, is followed by the next at once: the server does the waiting, and
    a change reaches the caller when it is committed, not at the next tick. An unchanged answer
    that came at once (a server that ignores ``?wait=``) paces the next poll ``poll_interval``
    after it; against such a server each change costs one extra poll, no more.
    """
    if state.job is not None and state.job.ended:
        return state.job  # an ended job never changes again
    deadline = Deadline(timeout)
    while True:
        hold = math.floor(deadline.cap(settings.long_poll)) if state.job else 0
        started = time.monotonic()
        update = yield from poll_once(settings, state, hold)
        took = time.monotonic() - started
        if update is not None:
            yield Emit(update)
        job = seen_job(state)
        if job.ended:
            return job
        if deadline.expired():
            raise timed_out(state, timeout)
        server_waits = update is not None or (hold >= 1 and took >= _HELD_SECONDS)
        if server_waits and _next_poll_holds(settings, state, deadline):
            continue
        pause = deadline.cap(settings.poll_interval - took)
        if pause > 0:
            yield Sleep(pause)


def _next_poll_holds(settings: PollSettings, state: PollState, deadline: Deadline) -> bool:
    return state.send_optional_parameters and deadline.cap(settings.long_poll) >= 1


def seen_job(state: PollState) -> Job:
    """The job as the last poll saw it; a successful poll always sets it."""
    if state.job is None:  # pragma: no cover - a driver bug, not a server answer
        raise RuntimeError("no job seen yet")
    return state.job


def follow_by_polling(
    settings: PollSettings, state: PollState, since: int, timeout: float | None
) -> Flow[Job]:
    """Emit each ActivityMessage after the first ``since``, in order, until the job ends."""
    emitted = since

    def new_messages(job: Job) -> Iterator[ActivityMessage]:
        nonlocal emitted
        fresh = job.messages[emitted:]
        emitted = max(emitted, len(job.messages))
        return iter(fresh)

    if state.job is not None:
        for message in new_messages(state.job):
            yield Emit(message)
    return (
        yield from map_emits(
            watch(settings, state, timeout), lambda update: new_messages(update.job)
        )
    )


def timed_out(state: PollState, timeout: float | None) -> WaitTimeout:
    status = state.job.status if state.job else "unknown"
    waited = "" if timeout is None else f" after {timeout:g} s"
    return WaitTimeout(
        f"Job {state.job_id} had not ended{waited} (status {status}).", job=state.job
    )


class Deadline:
    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self._end = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float:
        return math.inf if self._end is None else self._end - time.monotonic()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def cap(self, seconds: float) -> float:
        return max(min(seconds, self.remaining()), 0.0)
