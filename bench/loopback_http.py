"""A minimal HTTP/1.1 client on asyncio streams, for the benchmarks.

Enough HTTP for our own server on loopback: GETs and POSTs with keep-alive, bodies by
Content-Length or chunked, event streams read line by line. It holds a thousand idle connections
for a few kilobytes each and stamps each line with the wall clock the moment its bytes are read,
with no library's buffering in between. A POST costs the client about 35 µs of CPU against
httpx's 550, so a load generator built on it leaves the CPUs to the server it measures.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping

_NO_BODY = {204, 304}


class ProtocolError(RuntimeError):
    """The server's answer is not HTTP/1.1 as this client reads it, or the connection closed."""


@dataclasses.dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    """Names in lower case; a repeated header's values joined by ", "."""
    body: bytes
    arrived_ns: int
    """time.time_ns() once the whole answer was read."""


class Connection:
    """One keep-alive connection to ``host:port``, sending the same headers with each request."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        host: str,
        headers: Mapping[str, str],
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._host = host
        self._headers = dict(headers)

    @classmethod
    async def open(
        cls, host: str, port: int, headers: Mapping[str, str], local_address: str | None = None
    ) -> Connection:
        """``local_address``: the address to connect from (any of 127.0.0.0/8 on loopback), so
        that the server sees another client address."""
        local = (local_address, 0) if local_address else None
        reader, writer = await asyncio.open_connection(host, port, local_addr=local)
        return cls(reader, writer, f"{host}:{port}", headers)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):  # the server closed first; nothing is lost
            await self._writer.wait_closed()

    async def send_get(self, target: str, headers: Mapping[str, str] | None = None) -> None:
        await self.send("GET", target, headers)

    async def send(
        self,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> None:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host}"]
        lines += [
            f"{name}: {value}" for name, value in {**self._headers, **(headers or {})}.items()
        ]
        if body or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body)}")
        self._writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await self._writer.drain()

    async def get(self, target: str, headers: Mapping[str, str] | None = None) -> Answer:
        await self.send_get(target, headers)
        return await self.read_answer()

    async def post(
        self, target: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> Answer:
        await self.send("POST", target, headers, body)
        return await self.read_answer()

    async def read_answer(self) -> Answer:
        status, headers = await self.read_head()
        body = b"" if status in _NO_BODY else b"".join([c async for c in self._chunks(headers)])
        return Answer(status, headers, body, time.time_ns())

    async def read_head(self) -> tuple[int, dict[str, str]]:
        status_line = await self._reader.readline()
        if not status_line:
            raise ProtocolError("the connection closed before an answer")
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
            raise ProtocolError(f"not an HTTP/1.x status line: {status_line!r}")
        headers: dict[str, str] = {}
        while (line := await self._reader.readline()) not in (b"\r\n", b"\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            key, value = name.strip().lower(), value.strip()
            # A repeated header (two Set-Cookie, say) keeps every value, comma-separated.
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return int(parts[1]), headers

    async def lines(self, headers: Mapping[str, str]) -> AsyncIterator[tuple[bytes, int]]:
        """The body's lines (without the newline) as they arrive, each with time.time_ns() at
        the read that completed it; ends when the body does."""
        pending = b""
        async for chunk in self._chunks(headers):
            arrived = time.time_ns()
            *complete, pending = (pending + chunk).split(b"\n")
            for line in complete:
                yield line.removesuffix(b"\r"), arrived

    async def _chunks(self, headers: Mapping[str, str]) -> AsyncIterator[bytes]:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            async for chunk in self._chunked():
                yield chunk
        elif "content-length" in headers:
            yield await self._reader.readexactly(int(headers["content-length"]))
        else:  # delimited by the end of the connection
            while chunk := await self._reader.read(65536):
                yield chunk

    async def _chunked(self) -> AsyncIterator[bytes]:
        while True:
            size_line = await self._reader.readline()
            if not size_line:
                return  # closed without the last chunk: the caller sees the body end
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while await self._reader.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return
            chunk = await self._reader.readexactly(size)
            await self._reader.readexactly(2)
            yield chunk
