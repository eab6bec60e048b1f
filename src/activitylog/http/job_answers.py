"""Job-status answers built once and served many times: the encoded body with its headers.

An ended job's answer never changes again until retention prunes the job; so it is kept as long
as the LRU's bounds allow, but for at most ENDED_MAX_AGE seconds, after which a pruned job
(by this process, another, or `activitylog prune`) answers 404 everywhere.
Any other job's answer is kept only while the store's snapshot token (store.base.SnapshotTokens)
says that nothing was committed since it was read, by this process or any other.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Awaitable, Callable

from starlette.responses import Response

from activitylog.domain.jobs import WarnReporting, is_terminal
from activitylog.http.bodies import encode, job_body
from activitylog.store.records import JobView

# How soon a client should ask again about a job that has not ended.
RETRY_AFTER_SECONDS = "3"
_RETRY_AFTER = (b"retry-after", RETRY_AFTER_SECONDS.encode())
_CONTENT_TYPE = (b"content-type", b"application/json")
# What one cached answer holds besides its body (headers, key, LRU links): about 600 bytes by
# tracemalloc, rounded up. The byte bounds count it, so that small bodies cannot overrun them.
_ENTRY_OVERHEAD_BYTES = 800
# The API process idles at about 52 MB RSS and must stay under 100 MB with a million jobs
# stored: these two bounds leave room for SQLite's page caches and the allocator's slack. (With
# 32 + 8 MiB a 10-minute soak at a million jobs held 107.6 MB, bench/rss_soak.py.)
ENDED_MAX_BYTES = 20 * 1024 * 1024
UNENDED_MAX_BYTES = 4 * 1024 * 1024

Headers = tuple[tuple[bytes, bytes], ...]
ReadJob = Callable[[int, int], Awaitable[JobView | None]]


@dataclasses.dataclass(frozen=True, slots=True)
class JobAnswer:
    """A job's encoded body, and the headers its route sets on a 200 and on a 304.

    The headers every answer carries (middleware.HeaderPolicy's and the ECID) are not here:
    ResponseHeadersMiddleware and the fast path add them.
    """

    body: bytes
    etag: str
    ended: bool
    ok_headers: Headers
    not_modified_headers: Headers

    def select(self, if_none_match: str | None) -> tuple[int, bytes, Headers]:
        """Status, body and headers for a request that sent this If-None-Match."""
        if if_none_match is not None and etag_matches(if_none_match, self.etag):
            return 304, b"", self.not_modified_headers
        return 200, self.body, self.ok_headers

    def response(self, if_none_match: str | None) -> Response:
        status, body, headers = self.select(if_none_match)
        response = Response(body, status)
        response.raw_headers = list(headers)
        return response


def job_etag(view: JobView) -> str:
    return f'"{view.job_id}.{view.version}"'


def job_answer(view: JobView, warn: WarnReporting, *, messages_from: int = 0) -> JobAnswer:
    """The answer for ``view``; ``messages_from`` drops the messages before that index."""
    body = job_body(view, warn)
    if messages_from:
        body.messages = body.messages[messages_from:]
    return answer_for(encode(body), job_etag(view), ended=is_terminal(view.status))


def answer_for(body: bytes, etag: str, *, ended: bool) -> JobAnswer:
    # The order Starlette's Response(body, headers={...}, media_type=...) gives: the route's
    # headers, then content-length, then content-type.
    validators: Headers = ((b"etag", etag.encode("latin-1")),)
    if not ended:
        validators += (_RETRY_AFTER,)
    ok_headers = (*validators, (b"content-length", str(len(body)).encode()), _CONTENT_TYPE)
    return JobAnswer(body, etag, ended, ok_headers, validators)


def etag_matches(if_none_match: str, etag: str) -> bool:
    """Whether an If-None-Match header names this ETag (weak comparison, as RFC 9110 asks)."""
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in if_none_match.split(","))


class _BoundedAnswers:
    """An LRU of answers by (domain id, job id), bounded by count and by bytes held."""

    def __init__(self, capacity: int, max_bytes: int) -> None:
        self._capacity = capacity
        self._max_bytes = max_bytes
        self._bytes = 0
        self._answers: collections.OrderedDict[tuple[int, int], JobAnswer] = (
            collections.OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._answers)

    @property
    def bytes_held(self) -> int:
        return self._bytes

    def get(self, domain_id: int, job_id: int) -> JobAnswer | None:
        answer = self._answers.get((domain_id, job_id))
        if answer is not None:
            self._answers.move_to_end((domain_id, job_id))
        return answer

    def put(self, domain_id: int, job_id: int, answer: JobAnswer) -> None:
        replaced = self._answers.pop((domain_id, job_id), None)
        if replaced is not None:
            self._bytes -= _size(replaced)
        self._answers[(domain_id, job_id)] = answer
        self._bytes += _size(answer)
        while len(self._answers) > self._capacity or self._bytes > self._max_bytes:
            self._bytes -= _size(self._answers.popitem(last=False)[1])

    def clear(self) -> None:
        self._answers.clear()
        self._bytes = 0


def _size(answer: JobAnswer) -> int:
    return len(answer.body) + _ENTRY_OVERHEAD_BYTES


ENDED_MAX_AGE = 60.0
"""Seconds an ended job's answer is served from the cache: how long a job pruned elsewhere may
still be answered here. Re-reading each polled ended job once a minute costs nothing much."""


class EndedJobBodies(_BoundedAnswers):
    """Answers of ended jobs, which change only when retention prunes them: all dropped every
    ``max_age`` seconds."""

    def __init__(
        self,
        capacity: int = 50_000,
        max_bytes: int = ENDED_MAX_BYTES,
        *,
        max_age: float = ENDED_MAX_AGE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(capacity, max_bytes)
        self._max_age = max_age
        self._clock = clock
        self._since = clock()

    def get(self, domain_id: int, job_id: int) -> JobAnswer | None:
        if self._clock() - self._since > self._max_age:
            self.clear()
            self._since = self._clock()
            return None
        # _BoundedAnswers.get written out: a call through super() cost a tenth of a cached
        # job-status poll.
        answer = self._answers.get((domain_id, job_id))
        if answer is not None:
            self._answers.move_to_end((domain_id, job_id))
        return answer


class UnendedJobBodies:
    """Answers of NEW and RUNNING jobs, valid while the store's snapshot token is unchanged.

    All entries were read after ``_token`` was taken, so while the store still gives that
    token nothing was committed since, and they are current. A new token drops them all.
    """

    def __init__(self, capacity: int = 10_000, max_bytes: int = UNENDED_MAX_BYTES) -> None:
        self._token: object = None
        self._answers = _BoundedAnswers(capacity, max_bytes)

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, domain_id: int, job_id: int, token: object) -> JobAnswer | None:
        if token is None:
            return None
        if token != self._token:
            self._restart(token)
            return None
        return self._answers.get(domain_id, job_id)

    def put(self, domain_id: int, job_id: int, answer: JobAnswer, token: object) -> None:
        """Keep ``answer``, read after the store gave ``token``."""
        if token is None:
            return
        if token != self._token:
            self._restart(token)
        self._answers.put(domain_id, job_id, answer)

    def _restart(self, token: object) -> None:
        self._answers.clear()
        self._token = token


class JobAnswerCache:
    """Where the job-status GET looks before it reads the store."""

    def __init__(
        self,
        snapshot_token: Callable[[], object | None],
        *,
        warn: WarnReporting | None = None,
        ended: EndedJobBodies | None = None,
        unended: UnendedJobBodies | None = None,
    ) -> None:
        self.snapshot_token = snapshot_token
        """The store's (see store.base.SnapshotTokens), or one that always says None."""
        self.warn = WarnReporting() if warn is None else warn
        """How the answers kept here show WARN: the same for the fast path and Starlette's,
        and fixed for the process's life, so that a kept answer never goes stale by it."""
        self.ended = EndedJobBodies() if ended is None else ended
        self.unended = UnendedJobBodies() if unended is None else unended

    def lookup(self, domain_id: int, job_id: int) -> tuple[JobAnswer | None, object]:
        """The job's current answer when it needs no read, else None; and the token to put a
        fresh answer with, taken before the caller reads."""
        answer = self.ended.get(domain_id, job_id)
        if answer is not None:
            return answer, None
        token = self.snapshot_token()
        return self.unended.get(domain_id, job_id, token), token

    def put(self, domain_id: int, job_id: int, answer: JobAnswer, token: object) -> None:
        """Keep an answer read after the store gave ``token`` (taken before the read)."""
        if answer.ended:
            self.ended.put(domain_id, job_id, answer)
        else:
            self.unended.put(domain_id, job_id, answer, token)

    async def read(
        self, read_job: ReadJob, domain_id: int, job_id: int, token: object
    ) -> JobAnswer | None:
        """After a lookup that found nothing: the job's answer read with ``read_job`` (the
        store's get_job) and kept under the lookup's ``token``; None when there is no such
        job."""
        view = await read_job(domain_id, job_id)
        if view is None:
            return None
        answer = job_answer(view, self.warn)
        self.put(domain_id, job_id, answer, token)
        return answer
