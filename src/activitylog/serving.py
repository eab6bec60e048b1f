"""Running the ASGI application under granian (embedded, same event loop) or uvicorn."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from starlette.types import ASGIApp

from activitylog.settings import Settings


async def serve(app: ASGIApp, settings: Settings) -> None:
    if settings.server == "uvicorn":
        await _serve_uvicorn(app, settings)
    else:
        await _serve_granian(app, settings)


async def _serve_granian(app: ASGIApp, settings: Settings) -> None:
    from granian.constants import Interfaces  # noqa: PLC0415 - imported only when chosen
    from granian.server.embed import Server  # noqa: PLC0415

    server = Server(
        app,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        log_level=_granian_level(settings.log_level),
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, server.stop)
    await server.serve()


def _granian_level(level: str) -> Any:
    from granian.log import LogLevels  # noqa: PLC0415

    return (
        LogLevels(level.lower())
        if level.lower() in {m.value for m in LogLevels}
        else LogLevels.info
    )


async def _serve_uvicorn(app: ASGIApp, settings: Settings) -> None:
    import uvicorn  # noqa: PLC0415

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        lifespan="on",
    )
    await uvicorn.Server(config).serve()
