"""The processes: the API server's application assembled (store, service types, in-process
worker, demo tenant) and served by granian (embedded, in our event loop) or uvicorn, and the
API-less worker process."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import signal
import socket
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from types import FrameType
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp

from activitylog import errors
from activitylog.console import console_routes
from activitylog.demo import ensure_demo_tenant
from activitylog.domain.retention import RetentionPolicy
from activitylog.engine.handlers import ServiceTypeRegistry
from activitylog.engine.pruner import prune_forever
from activitylog.engine.registry import default_registry
from activitylog.engine.retention_config import retention_policy
from activitylog.engine.worker import worker_for
from activitylog.http.app import ActivityLogApp, Lifespan, build_app
from activitylog.http.health import Readiness, health_routes
from activitylog.logs import adopt_server_loggers
from activitylog.metrics import metrics_endpoint_for
from activitylog.settings import Settings
from activitylog.store import open_store
from activitylog.store.base import Store

log = structlog.get_logger("activitylog.serving")

LISTEN_BACKLOG = 2048
# Requests served at once. Embedded granian's default is its backlog, 128: the 129th long-poll
# or event stream would wait, unanswered, until another ended. Idle waiters cost a socket and a
# few kilobytes each, so allow many; the open-file limit is the real bound.
MAX_OPEN_REQUESTS = 16_384


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    registry: ServiceTypeRegistry | None = None,
) -> ActivityLogApp:
    """`activitylog serve`'s application: the API over the configured store and service types;
    its lifespan opens the store, creates the demo tenant and runs the in-process worker."""
    store = store or open_store(
        settings.db, pool_size=settings.db_pool_size, watch_wal_index=settings.sqlite_wal_index
    )
    registry = registry or default_registry(settings)
    lifespan = _server_lifespan(settings, store, registry, retention_policy(settings))
    return build_app(settings, store, registry, lifespan=lifespan, more_routes=console_routes)


def _server_lifespan(
    settings: Settings, store: Store, registry: ServiceTypeRegistry, policy: RetentionPolicy
) -> Lifespan:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        if settings.demo:
            await ensure_demo_tenant(store)
        worker = worker_task = None
        if settings.run_worker:
            worker = worker_for(settings, store, registry)
            worker_task = asyncio.create_task(worker.run(), name="activitylog-worker")
            running_task = worker_task
            app.state.readiness.expect_worker(lambda: not running_task.done())
        pruner = _start_pruner(settings, store, policy)
        try:
            yield
        finally:
            pruner.cancel()
            tasks = [pruner]
            if worker is not None and worker_task is not None:
                # Running handlers get the grace period; then their jobs go back to NEW.
                worker.stop(settings.shutdown_grace)
                tasks.append(worker_task)
            await _stopped(tasks, settings.shutdown_grace + _STOP_SLACK_SECONDS)
            await store.close()

    return lifespan


# Past the shutdown grace: the worker's own last writes (2 s), and the store's answers.
_STOP_SLACK_SECONDS = 10.0


async def _stopped(tasks: list[asyncio.Task[None]], timeout: float) -> None:
    """Wait for the background tasks to end; one that does not end in time is left behind with
    its stack logged, so that a shutdown never hangs on it."""
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in done:
        if not task.cancelled():
            task.exception()  # retrieved: each logged its own failure as it ended
    for task in pending:
        frames = "".join(
            f"{frame.f_code.co_filename}:{frame.f_lineno} " for frame in task.get_stack()
        )
        log.error("a background task did not stop in time", task=task.get_name(), stack=frames)
        task.cancel()


def _start_pruner(settings: Settings, store: Store, policy: RetentionPolicy) -> asyncio.Task[None]:
    return asyncio.create_task(
        prune_forever(
            store,
            policy,
            interval=settings.prune_interval,
            batch_size=settings.prune_batch_size,
        ),
        name="activitylog-prune",
    )


async def serve(
    app: ASGIApp,
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    on_stop: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, or until ``stop`` is set when the caller owns the signals.

    ``on_stop`` runs first on a signal: it ends the long-polls and event streams, which the
    server would otherwise wait for before it can run the application's shutdown.
    """
    if settings.server == "uvicorn":
        await _serve_uvicorn(app, settings, on_stop or (lambda: None))
    else:
        await _serve_granian(app, settings, stop, on_stop or (lambda: None))


async def check_store_opens(settings: Settings) -> None:
    """Open the database (applying pending migrations) and close it again, before anything
    listens: a database that cannot be reached stops the start-up with StoreUnavailable,
    rather than after the server said it listens, from inside its lifespan."""
    store = open_store(settings.db, pool_size=1, watch_wal_index=settings.sqlite_wal_index)
    await store.open()
    await store.close()


def ensure_port_free(host: str, port: int) -> None:
    """Raise AddressInUse when another process listens on ``host:port``.

    granian binds with SO_REUSEPORT, and its embedded server has no switch to turn that off:
    a second server on a taken port would start without a word and take half the first one's
    connections. A bind without SO_REUSEPORT fails while any other socket holds the port, so
    one made (and closed) just before the server binds tells. SO_REUSEADDR, as every server
    sets it, keeps a port that a stopped server left in TIME_WAIT usable.
    """
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise errors.CannotListen(host, port, exc.strerror or str(exc)) from exc
    with socket.socket(family, kind, protocol) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise errors.AddressInUse(host, port) from exc
            raise errors.CannotListen(host, port, exc.strerror or str(exc)) from exc


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run a server or worker process to its end, on uvloop: the job-status GET answered
    about 1.3x as many requests a second as on asyncio's own loop (bench/job_status.py)."""
    try:
        import uvloop  # noqa: PLC0415 - only processes that serve need it
    except ImportError:  # not built for Windows: asyncio's loop works, only slower
        asyncio.run(main)
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main)


async def _serve_granian(
    app: ASGIApp, settings: Settings, stop: asyncio.Event | None, on_stop: Callable[[], None]
) -> None:
    from granian.constants import Interfaces  # noqa: PLC0415 - imported only when chosen
    from granian.server.embed import Server  # noqa: PLC0415

    server: Any = Server(
        app,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        log_level=_granian_level(settings.log_level),
        backlog=LISTEN_BACKLOG,
        backpressure=MAX_OPEN_REQUESTS,
        **_granian_tls(settings),
    )
    adopt_server_loggers(settings.log_level)  # granian gave its loggers handlers of their own
    if stop is None:
        loop = asyncio.get_running_loop()

        def stop_serving() -> None:
            on_stop()
            server.stop()

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop_serving)
        await server.serve()
        return
    waiter = asyncio.create_task(stop.wait())
    waiter.add_done_callback(lambda _: server.stop())
    try:
        await server.serve()
    finally:
        waiter.cancel()


def _granian_tls(settings: Settings) -> dict[str, Any]:
    if not (settings.tls_certificate and settings.tls_key):
        return {}
    from granian.constants import SSLProtocols  # noqa: PLC0415

    return {
        "ssl_cert": Path(settings.tls_certificate),
        "ssl_key": Path(settings.tls_key),
        # granian's default is TLS 1.3 only; uvicorn's, and PSM clients on older Java, take 1.2.
        "ssl_protocol_min": SSLProtocols.tls12,
    }


def _granian_level(level: str) -> Any:
    from granian.log import LogLevels  # noqa: PLC0415

    known = {member.value for member in LogLevels}
    return LogLevels(level.lower()) if level.lower() in known else LogLevels.info


async def _serve_uvicorn(app: ASGIApp, settings: Settings, on_stop: Callable[[], None]) -> None:
    import uvicorn  # noqa: PLC0415

    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None,  # its loggers log through ours (activitylog.logs), in our format
        access_log=False,  # ours is --access-log (http/access_log.py), the same on granian
        lifespan="on",
        ssl_certfile=settings.tls_certificate,
        ssl_keyfile=settings.tls_key,
    )
    loop = asyncio.get_running_loop()

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # uvicorn waits for open requests before shutting down: end the long-polls and
            # streams first. A signal handler interrupts whatever the loop was doing, so the
            # loop runs on_stop, not this handler.
            loop.call_soon_threadsafe(on_stop)
            super().handle_exit(sig, frame)

    server = Server(config)
    adopt_server_loggers(settings.log_level)
    await server.serve()


async def run_worker_process(settings: Settings, *, health_port: int | None) -> None:
    """`activitylog worker`: claim and run jobs, with no API; optionally /health and /metrics."""
    registry = default_registry(settings)  # first: a bad configuration opens nothing
    policy = retention_policy(settings)
    store = open_store(
        settings.db, pool_size=settings.db_pool_size, watch_wal_index=settings.sqlite_wal_index
    )
    await store.open()
    worker = worker_for(settings, store, registry)
    worker_task = asyncio.create_task(worker.run(), name="activitylog-worker")
    stop = asyncio.Event()

    def on_signal() -> None:
        # The first signal stops gently (running handlers get the grace period); a second
        # one stops at once, their jobs still released for another worker.
        if stop.is_set():
            worker_task.cancel()
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    tasks = [worker_task]
    pruner = _start_pruner(settings, store, policy)
    if health_port is not None:
        health = dataclasses.replace(settings, port=health_port, server="granian")
        # Not cancelled: setting `stop` shuts this server down in an orderly way.
        readiness = Readiness(store, "postgres" if settings.db.startswith("postgres") else "sqlite")
        readiness.expect_worker(lambda: not worker_task.done())
        app = _health_app(readiness, store)
        tasks.append(asyncio.create_task(serve(app, health, stop=stop)))
    try:
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([*tasks, stopping], return_when=asyncio.FIRST_COMPLETED)
        stop.set()
        worker.stop(settings.shutdown_grace)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.error("worker process component failed", error=repr(result))
    finally:
        pruner.cancel()
        await asyncio.gather(pruner, return_exceptions=True)
        with contextlib.suppress(Exception):
            await store.close()


def _health_app(readiness: Readiness, store: Store) -> Starlette:
    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            *health_routes(readiness),
            Route("/metrics", metrics_endpoint_for(store), methods=["GET"]),
        ]
    )
