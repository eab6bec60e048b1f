"""The ASGI application: routes, error handling, headers, and the in-process worker's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from activitylog.demo import ensure_demo_tenant
from activitylog.engine.handlers import ServiceTypeRegistry
from activitylog.engine.registry import default_registry
from activitylog.engine.worker import worker_for
from activitylog.http import activitylog_api, cancel_api, instancemgmt_api, users_api
from activitylog.http.auth import Authenticator
from activitylog.http.context import AppContext
from activitylog.http.errors import EXCEPTION_HANDLERS, UnexpectedErrorMiddleware
from activitylog.http.job_answers import JobAnswerCache
from activitylog.http.job_status_fast_path import JobStatusFastPath
from activitylog.http.middleware import ExecutionContextIds, ResponseHeadersMiddleware
from activitylog.http.openapi import openapi_document
from activitylog.metrics import metrics_endpoint
from activitylog.settings import Settings
from activitylog.store.base import SnapshotTokens, Store, open_store


class ActivityLogApp(Starlette):
    """The Starlette application, with the job-status fast path in front of its middleware."""

    def __init__(self, fast_path: JobStatusFastPath, **options: Any) -> None:
        super().__init__(**options)
        self.fast_path = fast_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self.fast_path.answer(scope, send):
            await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    registry: ServiceTypeRegistry | None = None,
) -> ActivityLogApp:
    store = store or open_store(settings.db, pool_size=settings.db_pool_size)
    registry = registry or default_registry(settings)
    snapshot_token = store.snapshot_token if isinstance(store, SnapshotTokens) else lambda: None
    context = AppContext(
        settings=settings,
        store=store,
        registry=registry,
        authenticator=Authenticator(store, ttl=settings.credential_cache_ttl),
        job_answers=JobAnswerCache(snapshot_token),
    )
    ecids = ExecutionContextIds()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await store.open()
        if settings.demo:
            await ensure_demo_tenant(store)
        worker = worker_task = None
        if settings.run_worker:
            worker = worker_for(settings, store, registry)
            worker_task = asyncio.create_task(worker.run(), name="activitylog-worker")
        try:
            yield
        finally:
            if worker is not None and worker_task is not None:
                # Running handlers get the grace period; then their jobs go back to NEW.
                worker.stop(settings.shutdown_grace)
                await asyncio.gather(worker_task, return_exceptions=True)
            await store.close()

    openapi_body = openapi_document(registry.names())

    async def openapi(request: Request) -> Response:
        return Response(openapi_body, media_type="application/json")

    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    app = ActivityLogApp(
        JobStatusFastPath(context.authenticator, context.job_answers, ecids, store),
        routes=[
            *activitylog_api.routes,
            *cancel_api.routes,
            *users_api.routes,
            *instancemgmt_api.routes,
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        middleware=[
            Middleware(ResponseHeadersMiddleware, ecids=ecids),
            Middleware(UnexpectedErrorMiddleware),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.context = context
    return app
