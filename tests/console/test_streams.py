"""A console stream ends once its session does (signed out, password changed, user deleted)."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator

import anyio
import pytest
from starlette.requests import Request

from activitylog.console import streams

pytestmark = pytest.mark.anyio


async def test_a_stream_stops_at_the_first_chunk_after_its_session_ends(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(streams, "SESSION_CHECK_SECONDS", 0.0)
    signed_in, closed = [True], []

    async def events() -> AsyncGenerator[bytes, None]:
        try:
            for number in range(10):
                yield f"event {number}\n\n".encode()
                if number == 2:
                    signed_in[0] = False  # signed out while the stream is open
        finally:
            closed.append(True)  # the domain stream leaves its inbox here

    async def still_signed_in(request: Request) -> bool:
        return signed_in[0]

    request = Request({"type": "http", "headers": []})
    seen = [chunk async for chunk in streams.while_signed_in(events(), request, still_signed_in)]
    assert seen == [b"event 0\n\n", b"event 1\n\n", b"event 2\n\n"]
    assert closed == [True]


async def test_the_session_is_asked_at_most_every_check_interval() -> None:
    asked = []

    async def events() -> AsyncGenerator[bytes, None]:
        for number in range(50):
            yield b"%d" % number

    async def still_signed_in(request: Request) -> bool:
        asked.append(True)
        return True

    request = Request({"type": "http", "headers": []})
    seen = [chunk async for chunk in streams.while_signed_in(events(), request, still_signed_in)]
    assert len(seen) == 50
    assert asked == []  # 50 chunks in far less than SESSION_CHECK_SECONDS: no read


def event(kind: str, number: int) -> bytes:
    return f"event: {kind}\nid: {number}\ndata: {{}}\n\n".encode()


async def test_a_burst_of_events_becomes_one_change_at_once_and_one_when_the_interval_ends() -> (
    None
):
    async def burst() -> AsyncGenerator[bytes, None]:
        yield b": watching\n\n"
        for number in range(100):
            yield event("message", number)
        await anyio.sleep(0.3)  # quiet for longer than the interval
        yield event("status", 100)
        yield event("end", 100)

    started = time.monotonic()
    seen = [
        (round(time.monotonic() - started, 1), chunk)
        async for chunk in streams.changes_at_most_every(burst(), 0.1)
    ]
    assert [chunk for _, chunk in seen] == [
        b": watching\n\n",
        streams.CHANGE,  # the first message, at once
        streams.CHANGE,  # the other 99, when the interval ended
        streams.CHANGE,  # the status, at once after the quiet spell
        event("end", 100),  # as it is: the page closes its stream on it
    ]
    assert seen[2][0] == 0.1
    assert seen[3][0] >= 0.3


async def test_keep_alives_wait_behind_a_change_and_the_stream_is_closed_with_its_reader() -> None:
    closed = []

    async def endless() -> AsyncGenerator[bytes, None]:
        try:
            yield event("job", 1)
            yield event("job", 2)
            yield b": keep-alive\n\n"
            while True:
                await anyio.sleep(1)
                yield b": keep-alive\n\n"
        finally:
            closed.append(True)

    changes = streams.changes_at_most_every(endless(), 0.1)
    assert await anext(changes) == streams.CHANGE
    assert await anext(changes) == streams.CHANGE  # the second job; its keep-alive dropped
    await changes.aclose()
    assert closed == [True]


def test_a_pages_interval_is_its_own_or_longer_up_to_a_minute() -> None:
    default = streams.ACTIVITY_INTERVAL
    assert streams._interval("4", default) == 4.0  # the Overview's ?every=4
    assert streams._interval(None, default) == default
    assert streams._interval("0.01", default) == default  # never faster than the page's own
    assert streams._interval("3600", default) == streams.LONGEST_INTERVAL
    assert streams._interval("nan", default) == default
    assert streams._interval("soon", default) == default
