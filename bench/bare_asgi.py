"""The floor for a Python application on our server: an ASGI app that answers every request
with one file's bytes, served exactly as `activitylog serve` serves (activitylog.serving: the
same embedded granian, the same settings, on uvloop). job_status.py loads it beside nginx, so
that the gap between nginx and activitylog splits into what the server costs and what the
application adds.

    .venv/bin/python bench/bare_asgi.py --port PORT --body FILE
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from activitylog.serving import run_event_loop, serve
from activitylog.settings import Settings


def bare_app(body: bytes) -> ASGIApp:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body", type=Path, required=True)
    options = parser.parse_args(argv)
    app = bare_app(options.body.read_bytes())
    settings = Settings(port=options.port, log_level="warning")
    run_event_loop(serve(app, settings))


if __name__ == "__main__":
    main()
