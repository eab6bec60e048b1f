"""The event-stream parser, fed as a network would: in chunks cut anywhere."""

from __future__ import annotations

import pytest

from activitylog.client._sse import EventStreamParser, ServerSentEvent

JOB_STREAM = (
    b'event: message\nid: 1\ndata: {"message":"Activity Submitted"}\n\n'
    b": keep-alive\n\n"
    b'event: status\nid: 1\ndata: {"jobId":1,"status":"RUNNING"}\n\n'
    b'event: end\nid: 1\ndata: {"jobId":1,"status":"SUCCEED"}\n\n'
)
EXPECTED = [
    ServerSentEvent("message", '{"message":"Activity Submitted"}', "1"),
    ServerSentEvent("status", '{"jobId":1,"status":"RUNNING"}', "1"),
    ServerSentEvent("end", '{"jobId":1,"status":"SUCCEED"}', "1"),
]


def parse(*chunks: bytes) -> list[ServerSentEvent]:
    parser = EventStreamParser()
    return [event for chunk in chunks for event in parser.feed(chunk)]


def test_a_whole_stream_at_once() -> None:
    assert parse(JOB_STREAM) == EXPECTED


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
def test_chunks_cut_anywhere(size: int) -> None:
    chunks = [JOB_STREAM[i : i + size] for i in range(0, len(JOB_STREAM), size)]
    assert parse(*chunks) == EXPECTED


@pytest.mark.parametrize("ending", [b"\r\n", b"\r", b"\n"])
def test_every_line_ending_even_split_across_chunks(ending: bytes) -> None:
    stream = JOB_STREAM.replace(b"\n", ending)
    assert parse(stream) == EXPECTED
    assert parse(*(stream[i : i + 1] for i in range(len(stream)))) == EXPECTED


def test_data_lines_join_and_an_event_without_data_is_not_dispatched() -> None:
    assert parse(b"data: a\ndata:b\ndata\n\nevent: empty\n\n") == [
        ServerSentEvent("message", "a\nb\n", "")
    ]


def test_the_last_id_stands_until_replaced_and_a_utf8_character_may_be_split() -> None:
    text = "data: caf\u00e9\n\n".encode()
    parser = EventStreamParser()
    assert parser.feed(b"\xef\xbb\xbfid: 7\n" + text[:8]) == []
    assert parser.feed(text[8:] + b"data: x\n\nid: bad\0id\ndata: y\n\n") == [
        ServerSentEvent("message", "caf\u00e9", "7"),
        ServerSentEvent("message", "x", "7"),
        ServerSentEvent("message", "y", "7"),
    ]
    assert parser.last_event_id == "7"
