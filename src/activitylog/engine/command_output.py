"""What a command says, turned into activity: bounded lines, directives, redacted secrets.

Every stdout line becomes a message, except the directives ``::progress N`` and ``::warn text``;
stderr is kept only as a short tail for the failure message. Limits hold however much a
command prints, and configured secrets never reach a message.
"""

from __future__ import annotations

import asyncio
import collections
import re
from collections.abc import Iterable

from activitylog.engine.handlers import JobContext

REDACTED = "[REDACTED]"
TRUNCATED = " ... [truncated]"
PROGRESS_DIRECTIVE = "::progress"
WARN_DIRECTIVE = "::warn"
STDERR_TAIL_LINES = 10
STDERR_TAIL_CHARS = 2000
_READ_CHUNK = 64 * 1024
_PERCENT = re.compile(r"\d{1,3}%?")


class Redactor:
    """Replaces every configured secret by [REDACTED]."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so that a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self.longest = len(self._secrets[0]) if self._secrets else 0

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    def shorten(self, text: str, limit: int, *, cut: bool = False) -> str:
        """Redact, then cut to ``limit`` characters, leaving no partial secret at the end.

        ``cut``: the text was already cut short upstream, so its end may hold part of a secret.
        """
        text = self(text)
        if len(text) <= limit and not cut:
            return text
        text = text[:limit]
        for secret in self._secrets:
            for length in range(len(secret) - 1, 0, -1):
                if text.endswith(secret[:length]):
                    text = text[:-length]
                    break
        return text + TRUNCATED


class LineSplitter:
    """Cuts a byte stream into text lines of bounded size; an overlong line's rest is dropped."""

    def __init__(self, max_bytes: int) -> None:
        self._max_bytes = max_bytes
        self._buffer = bytearray()
        self._dropping = False

    def feed(self, chunk: bytes) -> list[tuple[str, bool]]:
        """The complete lines in ``chunk``, each with whether it was cut short."""
        lines: list[tuple[str, bool]] = []
        for index, part in enumerate(chunk.split(b"\n")):
            if index:  # a newline ended the previous part's line
                if not self._dropping:
                    lines.append((_decode(self._buffer), False))
                self._buffer.clear()
                self._dropping = False
            if self._dropping:
                continue
            self._buffer += part
            if len(self._buffer) > self._max_bytes:
                lines.append((_decode(self._buffer[: self._max_bytes]), True))
                self._buffer.clear()
                self._dropping = True
        return lines

    def close(self) -> list[tuple[str, bool]]:
        """The last line, when the stream did not end with a newline."""
        rest = [] if self._dropping or not self._buffer else [(_decode(self._buffer), False)]
        self._buffer.clear()
        return rest


def _decode(data: bytes | bytearray) -> str:
    return bytes(data).decode("utf-8", errors="replace").rstrip("\r")


class CommandOutput:
    """Relays a command's stdout to its job, and keeps the tail of its stderr."""

    def __init__(
        self, context: JobContext, redactor: Redactor, max_line_length: int, max_lines: int
    ) -> None:
        self._context = context
        self._redact = redactor
        self._max_line_length = max_line_length
        self._max_lines = max_lines
        self._lines_logged = 0
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._last_stdout_line = ""

    def _splitter(self) -> LineSplitter:
        # Room for four bytes a character, and for a secret straddling the cut.
        return LineSplitter(4 * self._max_line_length + 4 * self._redact.longest)

    async def relay_stdout(self, stream: asyncio.StreamReader) -> None:
        splitter = self._splitter()
        while chunk := await stream.read(_READ_CHUNK):
            for line, cut in splitter.feed(chunk):
                await self._stdout_line(line, cut)
        for line, cut in splitter.close():
            await self._stdout_line(line, cut)

    async def collect_stderr(self, stream: asyncio.StreamReader) -> None:
        splitter = self._splitter()
        while chunk := await stream.read(_READ_CHUNK):
            self._keep_stderr(splitter.feed(chunk))
        self._keep_stderr(splitter.close())

    def stderr_tail(self) -> str:
        """The last stderr lines on one line, redacted, at most STDERR_TAIL_CHARS long."""
        text = " | ".join(self._stderr_tail)
        return text if len(text) <= STDERR_TAIL_CHARS else "..." + text[-STDERR_TAIL_CHARS:]

    def last_line(self) -> str:
        """The command's last line of output, redacted: stderr's, else stdout's (directives
        aside); for the one log line of a failure."""
        return self._stderr_tail[-1] if self._stderr_tail else self._last_stdout_line

    def _keep_stderr(self, lines: list[tuple[str, bool]]) -> None:
        for line, cut in lines:
            if line.strip():
                self._stderr_tail.append(self._shorten(line, cut))

    async def _stdout_line(self, line: str, cut: bool) -> None:
        if await self._directive(line):
            return
        if not line.strip():
            return
        self._last_stdout_line = self._shorten(line, cut)
        self._lines_logged += 1
        if self._lines_logged <= self._max_lines:
            await self._context.log(self._shorten(line, cut))
        elif self._lines_logged == self._max_lines + 1:
            await self._context.log(
                f"Output limit reached: only the first {self._max_lines} lines are recorded."
            )

    async def _directive(self, line: str) -> bool:
        """Act on a ``::progress``/``::warn`` line; False when the line is no directive."""
        word, _, rest = line.partition(" ")
        if word == PROGRESS_DIRECTIVE and _PERCENT.fullmatch(rest.strip()):
            percent = int(rest.strip().rstrip("%"))
            if percent <= 100:
                await self._context.progress(percent)
                return True
        if word == WARN_DIRECTIVE:
            self._context.warn(self._shorten(rest.strip(), False) or None)
            return True
        return False

    def _shorten(self, line: str, cut: bool) -> str:
        return self._redact.shorten(line, self._max_line_length, cut=cut)
