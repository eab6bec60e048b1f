"""Server-sent events, parsed from the bytes of a ``text/event-stream`` as they arrive: no I/O.

It follows the WHATWG event-stream rules a browser's ``EventSource`` follows: lines end with
CRLF, LF or CR (even split across chunks), ``:`` starts a comment, ``data`` lines join with
newlines, an ``id`` stays the stream's last event id until another replaces it, and a blank
line dispatches the event (none when it has no data).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str
    data: str
    id: str  # the stream's last event id when this event was dispatched ("" before any)


class EventStreamParser:
    def __init__(self) -> None:
        self._pending = b""
        self._after_cr = False  # a chunk ended in CR: a LF starting the next one ends no line
        self._first_line = True
        self._event = ""
        self._data: list[str] = []
        self.last_event_id = ""

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """The events that ``chunk`` completes, in order."""
        if self._after_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]
        self._after_cr = chunk.endswith(b"\r")
        text = (self._pending + chunk).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        *lines, self._pending = text.split(b"\n")
        events = (self._line(line) for line in lines)
        return [event for event in events if event is not None]

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        line = raw.decode("utf-8", errors="replace")
        if self._first_line:
            line = line.removeprefix("\ufeff")
            self._first_line = False
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self.last_event_id = value
        return None  # "retry" and unknown fields: nothing this client uses

    def _dispatch(self) -> ServerSentEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return ServerSentEvent(event or "message", "\n".join(data), self.last_event_id)
