"""Caps on the requests a client may hold open at once: event streams and long-polls.

Each holds a connection, a task and a subscription for as long as it lasts (minutes for a
stream), so each user, and each client address, gets at most so many of each kind; one more is
refused with 429 and a Retry-After, and a slot frees the moment a request ends. The counts are
this process's own: behind a load balancer over several processes a client may hold up to the
cap in each.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Hashable

from starlette.requests import Request

from activitylog import errors
from activitylog.http.auth import Principal
from activitylog.settings import Settings


class OpenRequestSlot:
    """One open request's place in the counts; given back once, however the request ends."""

    def __init__(self, limit: OpenRequestLimit, keys: tuple[Hashable, ...]) -> None:
        self._limit = limit
        self._keys = keys
        self._released = False

    def release(self) -> None:
        if not self._released:
            self._released = True
            self._limit.give_back(self._keys)

    def __enter__(self) -> OpenRequestSlot:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


class OpenRequestLimit:
    """At most ``per_user`` open requests of one kind per user and ``per_address`` per client
    address (0: no cap)."""

    def __init__(self, kind: str, *, per_user: int, per_address: int) -> None:
        self._kind = kind
        self._per_user = per_user
        self._per_address = per_address
        self._open: collections.Counter[Hashable] = collections.Counter()

    def hold(self, principal: Principal, request: Request) -> OpenRequestSlot:
        """A slot for the request, or TooManyRequests when its user or address has none left."""
        user = ("user", principal.domain_id, principal.user_id)
        if self._per_user and self._open[user] >= self._per_user:
            raise errors.TooManyRequests(
                f"User [{principal.user_name}] already holds {self._per_user} open {self._kind}, "
                "the most allowed; close one, or retry later."
            )
        keys: tuple[Hashable, ...] = (user,)
        if request.client is not None:
            address = ("address", request.client.host)
            if self._per_address and self._open[address] >= self._per_address:
                raise errors.TooManyRequests(
                    f"This client address already holds {self._per_address} open {self._kind}, "
                    "the most allowed; close one, or retry later."
                )
            keys = (user, address)
        self._open.update(keys)
        return OpenRequestSlot(self, keys)

    def give_back(self, keys: tuple[Hashable, ...]) -> None:
        self._open.subtract(keys)
        for key in keys:
            if self._open[key] <= 0:
                del self._open[key]


@dataclasses.dataclass(frozen=True)
class OpenRequests:
    streams: OpenRequestLimit
    long_polls: OpenRequestLimit

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenRequests:
        return cls(
            streams=OpenRequestLimit(
                "event streams",
                per_user=settings.max_streams_per_user,
                per_address=settings.max_streams_per_address,
            ),
            long_polls=OpenRequestLimit(
                "long-polls",
                per_user=settings.max_long_polls_per_user,
                per_address=settings.max_long_polls_per_address,
            ),
        )
