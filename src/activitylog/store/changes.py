"""In-process fan-out of "job N of domain D changed" to everyone waiting on it: long-polls and
SSE streams.

One feed per process. The store publishes into it after every write that changes a job; on
PostgreSQL, changes made by other processes arrive through LISTEN/NOTIFY and are published
here too. Waiters then read the job once per change, so idle waiters cost no queries at all.
A change carries its job's identity domain, so a domain's watchers hear only their own
domain's changes: one domain's busy jobs cost the others' streams nothing.

Subscribe *before* reading the job: a change that lands between the read and the wait is then
still seen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Iterator
from typing import NamedTuple

_WATCH_QUEUE_SIZE = 10_000


class JobChange(NamedTuple):
    job_id: int
    domain_id: int | None
    """None when the change's domain is not known (an announcement from an older process):
    every domain's watchers are told, to be safe."""


class JobSubscription:
    def __init__(self, feed: JobChanges) -> None:
        self._feed = feed
        self._changed = asyncio.Event()

    def notify(self) -> None:
        self._changed.set()

    async def wait(self, timeout: float) -> bool:
        """True once the job changed since the last wait; False on timeout or shutdown."""
        if not self._changed.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), timeout)
        changed = self._changed.is_set()
        self._changed.clear()
        return changed and not self._feed.closed


class JobChanges:
    def __init__(self) -> None:
        self._subscriptions: dict[int, set[JobSubscription]] = {}
        self._watchers: dict[int, set[asyncio.Queue[int | None]]] = {}
        self.closed = False

    def publish(self, job_id: int, domain_id: int | None = None) -> None:
        for subscription in self._subscriptions.get(job_id, ()):
            subscription.notify()
        watchers: Iterable[asyncio.Queue[int | None]]
        if domain_id is None:
            watchers = [queue for queues in self._watchers.values() for queue in queues]
        else:
            watchers = self._watchers.get(domain_id, ())
        for queue in watchers:
            with contextlib.suppress(asyncio.QueueFull):  # a stalled watcher misses changes
                queue.put_nowait(job_id)

    def publish_to_every_job(self) -> None:
        """Wake every job's waiters (after a gap in which changes may have been missed)."""
        for subscriptions in self._subscriptions.values():
            for subscription in subscriptions:
                subscription.notify()

    @contextlib.contextmanager
    def subscribe(self, job_id: int) -> Iterator[JobSubscription]:
        subscription = JobSubscription(self)
        subscriptions = self._subscriptions.setdefault(job_id, set())
        subscriptions.add(subscription)
        if self.closed:
            subscription.notify()
        try:
            yield subscription
        finally:
            subscriptions.discard(subscription)
            if not subscriptions:
                self._subscriptions.pop(job_id, None)

    @contextlib.contextmanager
    def watch_domain(self, domain_id: int) -> Iterator[asyncio.Queue[int | None]]:
        """A queue of the ids of the domain's jobs as they change; ``None`` means the feed
        closed."""
        queue: asyncio.Queue[int | None] = asyncio.Queue(_WATCH_QUEUE_SIZE)
        watchers = self._watchers.setdefault(domain_id, set())
        watchers.add(queue)
        if self.closed:
            queue.put_nowait(None)
        try:
            yield queue
        finally:
            watchers.discard(queue)
            if not watchers:
                self._watchers.pop(domain_id, None)

    def close(self) -> None:
        """Release every waiter: the server is shutting down."""
        self.closed = True
        for subscriptions in self._subscriptions.values():
            for subscription in subscriptions:
                subscription.notify()
        for queues in self._watchers.values():
            for queue in queues:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait(None)
