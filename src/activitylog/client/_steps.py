"""The client's logic is written once, as generators that yield steps and do no I/O.

A flow yields an ``httpx.Request`` (and is sent back the response), a ``Sleep``, or an ``Emit``
(a value for the caller of an iterating method). ``Client`` and ``AsyncClient`` each carry the
steps out in their own way, so retries, paging and polling exist once, not once per client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterable
from typing import Any, Generic, TypeAlias, TypeVar

import httpx

from activitylog.client._errors import api_error_class
from activitylog.client._retry import RETRYABLE_STATUSES, RetryPolicy
from activitylog.client._wire import decode_error

T = TypeVar("T")
U = TypeVar("U")


@dataclasses.dataclass(frozen=True, slots=True)
class Sleep:
    seconds: float


@dataclasses.dataclass(frozen=True, slots=True)
class Emit(Generic[U]):
    value: U


Step: TypeAlias = httpx.Request | Sleep | Emit[Any]
Flow: TypeAlias = Generator[Step, httpx.Response | None, T]


def exchange(request: httpx.Request, retry: RetryPolicy) -> Flow[httpx.Response]:
    """Send ``request``; repeat it on 429 and 503 as ``Retry-After`` asks, a bounded few times."""
    attempt = 0
    while True:
        response = yield request
        if response is None:  # pragma: no cover - a driver bug, not a server answer
            raise RuntimeError("the driver answered a request without a response")
        if response.status_code not in RETRYABLE_STATUSES or attempt >= retry.max_retries:
            return response
        yield Sleep(retry.delay(response.headers.get("Retry-After"), attempt))
        attempt += 1


def raise_for_status(response: httpx.Response) -> httpx.Response:
    """Return a response under 400; raise the most specific ApiError for any other."""
    if response.status_code < 400:
        return response
    message, issues = decode_error(response.content)
    raise api_error_class(response.status_code)(
        message or None,
        status_code=response.status_code,
        issues=issues,
        ecid=response.headers.get("X-ORACLE-DMS-ECID"),
    )


def map_emits(flow: Flow[T], convert: Callable[[Any], Iterable[U]]) -> Flow[T]:
    """Run ``flow``, replacing each value it emits with the values ``convert`` gives for it."""
    reply: httpx.Response | None = None
    while True:
        try:
            step = flow.send(reply)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        reply = None
        if isinstance(step, Emit):
            for value in convert(step.value):
                yield Emit(value)
        else:
            reply = yield step
