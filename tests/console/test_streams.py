"""A console stream ends once its session does (signed out, password changed, user deleted)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

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
