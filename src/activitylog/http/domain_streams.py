"""The domain event streams' shared readers: one per identity domain with streams open.

A change to one of the domain's jobs is read once and encoded once, checked once against each
distinct filter, then handed to every stream of that domain whose filter the job matches,
however many there are; changes to other domains' jobs never reach it (the change feed keys its
watchers by domain). Streams only wait on their own inbox and write what it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

import msgspec
import structlog

from activitylog import errors
from activitylog.domain.dates import format_timestamp
from activitylog.domain.jobs import WarnReporting
from activitylog.domain.search import JobQuery, job_matches
from activitylog.store.base import Store
from activitylog.store.records import JobView

log = structlog.get_logger("activitylog.http")

MAX_PENDING_EVENTS = 1_000
"""Events a stream may hold unsent; a client that reads slower than that is dropped (it
reconnects), rather than have the server hold its backlog."""


def sse_event(kind: str, event_id: str | int, data: Any) -> bytes:
    return b"event: %s\nid: %s\ndata: %s\n\n" % (
        kind.encode(),
        str(event_id).encode(),
        msgspec.json.encode(data),
    )


class StreamInbox:
    """What the domain's reader has for one stream: the encoded events its filter matched."""

    def __init__(self) -> None:
        self._events: list[bytes] = []
        self._ready = asyncio.Event()
        self.ended = False
        """Set when the stream is to end: shutdown, a read that failed, or a stalled client."""

    def offer(self, event: bytes) -> None:
        if self.ended:
            return
        if len(self._events) >= MAX_PENDING_EVENTS:
            self.end()
            return
        self._events.append(event)
        self._ready.set()

    def end(self) -> None:
        self.ended = True
        self._ready.set()

    async def take(self, timeout: float) -> list[bytes]:
        """The events offered since the last take; none if ``timeout`` passed first."""
        if not self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), timeout)
        self._ready.clear()
        events, self._events = self._events, []
        return events


class DomainStreams:
    """The readers of the domains with streams open, each stopped with its domain's last
    stream."""

    def __init__(self, store: Store, warn: WarnReporting | None = None) -> None:
        self._store = store
        self._warn = WarnReporting() if warn is None else warn
        self._readers: dict[int, _DomainReader] = {}

    @contextlib.contextmanager
    def join(self, domain_id: int, query: JobQuery) -> Iterator[StreamInbox]:
        """An inbox of the domain's changes that match ``query``, from now on."""
        reader = self._readers.get(domain_id)
        if reader is None or reader.stopped:
            reader = _DomainReader(self._store, domain_id, self._warn)
            self._readers[domain_id] = reader
        # Streams with the same filter share one check of each change (paging plays no part).
        query = dataclasses.replace(query, order_by=(), limit=0, offset=0)
        inbox = StreamInbox()
        reader.inboxes.setdefault(query, set()).add(inbox)
        try:
            yield inbox
        finally:
            reader.leave(query, inbox)
            if not reader.inboxes:
                reader.stop()
                if self._readers.get(domain_id) is reader:
                    del self._readers[domain_id]


class _DomainReader:
    def __init__(self, store: Store, domain_id: int, warn: WarnReporting) -> None:
        self.inboxes: dict[JobQuery, set[StreamInbox]] = {}
        """The streams' inboxes by filter."""
        self.stopped = False
        self._store = store
        self._domain_id = domain_id
        self._warn = warn
        # Watching starts now, before the first stream sends anything: no change is missed.
        self._watch = contextlib.ExitStack()
        queue = self._watch.enter_context(store.changes.watch_domain(domain_id))
        self._task = asyncio.create_task(self._read_forever(queue), name="activitylog-domain")

    def leave(self, query: JobQuery, inbox: StreamInbox) -> None:
        same_filter = self.inboxes.get(query, set())
        same_filter.discard(inbox)
        if not same_filter:
            self.inboxes.pop(query, None)

    def stop(self) -> None:
        self.stopped = True
        self._task.cancel()
        self._watch.close()

    async def _read_forever(self, queue: asyncio.Queue[int | None]) -> None:
        try:
            while True:
                for job_id in _changed_jobs(await queue.get(), queue):
                    if job_id is None:  # the feed closed: the server is shutting down
                        return
                    await self._read_and_hand_out(job_id)
        except errors.ActivityLogError as exc:
            # The streams would miss this change without saying so: end them, and their
            # clients reconnect (and read the jobs afresh).
            log.warning("domain stream reader failed", error=exc.message)
        finally:
            self.stopped = True
            self._watch.close()
            for same_filter in self.inboxes.values():
                for inbox in same_filter:
                    inbox.end()

    async def _read_and_hand_out(self, job_id: int) -> None:
        view = await self._store.get_job(self._domain_id, job_id)
        if view is None:
            return
        event = None  # encoded once, if any stream wants it
        for query, same_filter in self.inboxes.items():
            if job_matches(query, view):
                if event is None:
                    summary = job_summary(view, self._warn)
                    event = sse_event("job", f"{view.job_id}.{view.version}", summary)
                for inbox in same_filter:
                    inbox.offer(event)


def _changed_jobs(first: int | None, queue: asyncio.Queue[int | None]) -> list[int | None]:
    """The first change and every one already queued behind it, each job once: a job that
    changed twice meanwhile is read once, at its latest."""
    changed = dict.fromkeys([first])
    while not queue.empty():
        changed[queue.get_nowait()] = None
    if None in changed:  # the end comes after everything queued before it
        del changed[None]
        changed[None] = None
    return list(changed)


def job_summary(view: JobView, warn: WarnReporting) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "jobId": view.job_id,
        "activityLogId": view.activity_log_id,
        "serviceName": view.service_name,
        "serviceType": view.service_type,
        "operationType": view.operation_type,
        "status": warn.status(view.service_type, view.status),
        "startDate": format_timestamp(view.start_date),
    }
    if view.end_date is not None:
        summary["endDate"] = format_timestamp(view.end_date)
    if view.messages:
        last = view.messages[-1]
        summary["lastMessage"] = {
            "activityDate": format_timestamp(last.activity_date),
            "message": last.text,
            "position": len(view.messages),
        }
    if view.percent_complete is not None:
        summary["percentComplete"] = view.percent_complete
    return summary
