"""The client's logic is written once, as generators that yield steps and do no I/O.

A flow yields an ``httpx.Request`` (and is sent back the response), a ``Sleep``, an ``Emit``
(a value for the caller of an iterating method), or one of the stream steps: ``OpenStream``,
``ReadStream`` and ``CloseStream`` work one response body read as it arrives (a flow has at
most one open; its driver closes it when the flow ends). A request that gets no answer is
thrown into the flow as a ``TransportError`` where it yielded the step. ``Client`` and
``AsyncClient`` each carry the steps out in their own way, so retries, paging, polling and
event streams exist once, not once per client.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterable
from typing import Any, Generic, TypeAlias, TypeVar

import httpx

from activitylog.client._errors import TransportError, api_error_class
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


@dataclasses.dataclass(frozen=True, slots=True)
class OpenStream:
    """Send ``request``, closing any stream open before; answered with the response, its body
    left to read with ReadStream if the status is 200, else already read and closed."""

    request: httpx.Request


@dataclasses.dataclass(frozen=True, slots=True)
class ReadStream:
    """Answered with the next bytes of the open stream as they arrive; b"" at its end."""


@dataclasses.dataclass(frozen=True, slots=True)
class CloseStream:
    pass


Step: TypeAlias = httpx.Request | Sleep | Emit[Any] | OpenStream | ReadStream | CloseStream
Reply: TypeAlias = httpx.Response | bytes | None
Flow: TypeAlias = Generator[Step, Reply, T]


def advance(flow: Flow[Any], reply: Reply, error: TransportError | None) -> Step:
    """The flow's next step, given the answer to its last one or the failure to get one."""
    return flow.send(reply) if error is None else flow.throw(error)


def exchange(request: httpx.Request, retry: RetryPolicy) -> Flow[httpx.Response]:
    """Send ``request``; repeat it on 429 and 503 as ``Retry-After`` asks, a bounded few times."""
    attempt = 0
    while True:
        response = response_to(request, (yield request))
        if response.status_code not in RETRYABLE_STATUSES or attempt >= retry.max_retries:
            return response
        yield Sleep(retry.delay(response.headers.get("Retry-After"), attempt))
        attempt += 1


def response_to(step: httpx.Request | OpenStream, reply: Reply) -> httpx.Response:
    if not isinstance(reply, httpx.Response):  # pragma: no cover - a driver bug
        raise TypeError(f"the driver answered {step!r} with {type(reply).__name__}")
    return reply


def bytes_read(reply: Reply) -> bytes:
    if not isinstance(reply, bytes):  # pragma: no cover - a driver bug
        raise TypeError(f"the driver answered a stream read with {type(reply).__name__}")
    return reply


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
    reply: Reply = None
    error: TransportError | None = None
    while True:
        try:
            step = advance(flow, reply, error)
        except StopIteration as stop:
            return stop.value  # type: ignore[no-any-return]
        reply, error = None, None
        if isinstance(step, Emit):
            for value in convert(step.value):
                yield Emit(value)
            continue
        try:
            reply = yield step
        except TransportError as exc:  # the inner flow's to handle, as ``yield from`` would
            error = exc
