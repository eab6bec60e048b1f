"""The ASGI application: routes, error handling, headers, and the in-process worker's lifespan."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitylog.demo import ensure_demo_tenant
from activitylog.engine.handlers import ServiceTypeRegistry
from activitylog.engine.registry import default_registry
from activitylog.engine.worker import worker_for
from activitylog.http import activitylog_api, cancel_api, instancemgmt_api, users_api
from activitylog.http.auth import Authenticator
from activitylog.http.context import AppContext, EndedJobBodies
from activitylog.http.errors import EXCEPTION_HANDLERS, UnexpectedErrorMiddleware
from activitylog.http.middleware import ResponseHeadersMiddleware
from activitylog.http.openapi import openapi_document
from activitylog.metrics import metrics_endpoint
from activitylog.settings import Settings
from activitylog.store.base import Store, open_store


def create_app(
    settings: Settings,
    *,
    store: Store | None = None,
    registry: ServiceTypeRegistry | None = None,
) -> Starlette:
    store = store or open_store(settings.db)
    registry = registry or default_registry(settings)
    context = AppContext(
        settings=settings,
        store=store,
        registry=registry,
        authenticator=Authenticator(store, ttl=settings.credential_cache_ttl),
        ended_jobs=EndedJobBodies(),
    )

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

    app = Starlette(
        routes=[
            *activitylog_api.routes,
            *cancel_api.routes,
            *users_api.routes,
            *instancemgmt_api.routes,
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/health", health, methods=["GET"]),
            Route("/metrics", metrics_endpoint, methods=["GET"]),
        ],
        middleware=[Middleware(ResponseHeadersMiddleware), Middleware(UnexpectedErrorMiddleware)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.context = context
    return app
