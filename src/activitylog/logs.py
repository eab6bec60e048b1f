"""Logging set-up: every line in one format, ours (structlog) and the libraries' (granian,
uvicorn, asyncio) alike: JSON objects, or readable lines on a terminal. The request's ECID,
domain and user, and the job and worker ids, come from structlog's context variables."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog

LOG_FORMATS = ("auto", "json", "console")

# granian logs this at every start of its embedded server, which is how we run it (in our
# event loop, beside the in-process worker). Nothing an operator can do about it, and a
# WARNING at every start teaches people to ignore warnings: drop that one message.
_UNACTIONABLE = frozenset({"Embedded server is experimental!"})
# The servers' own loggers: they log through the root handler below, in our format, and their
# lifecycle chatter ("Spawning worker-1 with id ...") only at debug.
_SERVER_LOGGERS = ("_granian", "granian.access", "uvicorn", "uvicorn.error", "uvicorn.access")


def resolve_format(log_format: str, stream: TextIO) -> str:
    """``auto``: readable lines on a terminal, JSON for whatever collects the logs."""
    if log_format != "auto":
        return log_format
    return "console" if stream.isatty() else "json"


def configure_logging(
    level: str = "info", *, log_format: str = "console", stream: TextIO | None = None
) -> None:
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise TypeError(f"unknown log level {level!r}")
    stream = stream or sys.stderr
    renderer = _renderer(resolve_format(log_format, stream))
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=True,
    )
    _route_standard_logging(numeric, stream, shared, renderer)


def adopt_server_loggers(level: str) -> None:
    """Make the servers' loggers log through ours. Call it after the server is built: granian
    and uvicorn configure their loggers (handlers of their own, on stdout) when they are."""
    numeric = logging.getLevelName(level.upper())
    quiet = numeric if numeric == logging.DEBUG else max(numeric, logging.WARNING)
    for name in _SERVER_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(quiet)


def _renderer(log_format: str) -> structlog.typing.Processor:
    if log_format == "json":
        return structlog.processors.JSONRenderer()
    return structlog.dev.ConsoleRenderer(colors=False)


def _route_standard_logging(
    level: int,
    stream: TextIO,
    shared: list[structlog.typing.Processor],
    renderer: structlog.typing.Processor,
) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    handler.addFilter(_drop_unactionable)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    adopt_server_loggers(logging.getLevelName(level))


def _drop_unactionable(record: logging.LogRecord) -> bool:
    return record.getMessage() not in _UNACTIONABLE
