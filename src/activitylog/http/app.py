"""The ASGI application, built from what it is given: routes, error handling, headers, and the
job-status fast path in front. activitylog.serving assembles what it is given."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import Message, Receive, Scope, Send

from activitylog.domain.jobs import WarnReporting
from activitylog.http import (
    activitylog_api,
    audit_api,
    cancel_api,
    instancemgmt_api,
    psm_job_views,
    tokens_api,
    users_api,
)
from activitylog.http.access_log import log_request
from activitylog.http.auth import Authenticator
from activitylog.http.bearer import BearerAuthenticator
from activitylog.http.context import AppContext
from activitylog.http.domain_streams import DomainStreams
from activitylog.http.errors import EXCEPTION_HANDLERS, UnexpectedErrorMiddleware
from activitylog.http.health import Readiness, health_routes
from activitylog.http.job_answers import JobAnswerCache
from activitylog.http.job_status_fast_path import JobStatusFastPath
from activitylog.http.middleware import (
    ExecutionContextIds,
    HeaderPolicy,
    ResponseHeadersMiddleware,
    with_single_slashes,
)
from activitylog.http.open_requests import OpenRequests
from activitylog.http.openapi import openapi_document
from activitylog.http.query_parameters import UnknownQueryParameters, query_parameters_by_route
from activitylog.http.service_types import ServiceTypes
from activitylog.metrics import count_request, metrics_endpoint_for, route_template
from activitylog.settings import Settings
from activitylog.store.base import SnapshotTokens, Store

Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]
MoreRoutes = Callable[[AppContext], Sequence[BaseRoute]]
"""Routes served beside the API's over the same context: the web console's."""


class ActivityLogApp(Starlette):
    """The Starlette application, with the job-status fast path in front of its middleware."""

    def __init__(
        self, fast_path: JobStatusFastPath, *, access_log: bool = False, **options: Any
    ) -> None:
        super().__init__(**options)
        self.fast_path = fast_path
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope = with_single_slashes(scope)
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
        elif self.access_log:
            await log_request(scope, receive, send, self._answer)
        # Not through _answer: one coroutine less on the hot path. The fast path counts its own.
        elif not await self.fast_path.answer(scope, send):
            await self._counted(scope, receive, send)

    async def _answer(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self.fast_path.answer(scope, send):
            await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500  # unless the application says otherwise

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await super().__call__(scope, receive, send_counting)
        finally:
            # Routing left the matched route in the scope: count by its template, not the
            # path, so that job ids do not make a series each.
            count_request(route_template(scope.get("route")), scope["method"], status)


def build_app(
    settings: Settings,
    store: Store,
    service_types: ServiceTypes,
    *,
    lifespan: Lifespan,
    more_routes: MoreRoutes | None = None,
) -> ActivityLogApp:
    """The API over ``store`` and ``service_types``; ``lifespan`` opens and closes them, and
    whatever runs beside the API; ``more_routes`` adds routes over the same context."""
    snapshot_token = store.snapshot_token if isinstance(store, SnapshotTokens) else lambda: None
    warn = _warn_reporting(settings, service_types)
    context = AppContext(
        settings=settings,
        store=store,
        registry=service_types,
        authenticator=Authenticator.for_settings(store, settings, _bearer(settings, store)),
        job_answers=JobAnswerCache(snapshot_token, warn=warn),
        domain_streams=DomainStreams(store, warn),
        open_requests=OpenRequests.from_settings(settings),
    )
    ecids = ExecutionContextIds()
    headers = HeaderPolicy.from_settings(settings)
    openapi_body = openapi_document(
        [service_types.get(n) for n in service_types.names()],
        token_max_days=settings.token_max_days,
    )
    readiness = Readiness(store, _dialect_of(store))

    async def openapi(request: Request) -> Response:
        return Response(openapi_body, media_type="application/json")

    async def health(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    api_routes = [
        *activitylog_api.routes,
        *cancel_api.routes,
        *users_api.routes,
        *tokens_api.routes,
        *audit_api.routes,
        *instancemgmt_api.routes,
        *psm_job_views.routes,
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
        *health_routes(readiness),
        Route("/metrics", metrics_endpoint_for(store), methods=["GET"]),
    ]
    routes = [*api_routes, *(more_routes(context) if more_routes is not None else ())]
    app = ActivityLogApp(
        JobStatusFastPath(context.authenticator, context.job_answers, ecids, store, headers),
        routes=routes,
        middleware=[
            Middleware(ResponseHeadersMiddleware, policy=headers, ecids=ecids),
            Middleware(UnexpectedErrorMiddleware),
            Middleware(
                UnknownQueryParameters,
                documented=query_parameters_by_route(msgspec.json.decode(openapi_body)),
                # The API's routes only: the others (the console) take what they document.
                served=[route.path_regex for route in api_routes],
            ),
        ],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
        access_log=settings.access_log,
    )
    app.state.context = context
    app.state.readiness = readiness
    return app


def _warn_reporting(settings: Settings, service_types: ServiceTypes) -> WarnReporting:
    """The server's switch, and each service type's (docs/compatibility.md)."""
    chosen = frozenset(n for n in service_types.names() if service_types.get(n).warn_as_succeed)
    return WarnReporting(everywhere=settings.warn_as_succeed, service_types=chosen)


def _dialect_of(store: Store) -> str:
    dialect = getattr(store, "dialect", None) or getattr(
        getattr(store, "inner", None), "dialect", None
    )
    return "postgres" if getattr(dialect, "name", "sqlite") == "postgres" else "sqlite"


def _bearer(settings: Settings, store: Store) -> BearerAuthenticator:
    """Personal API tokens, and OIDC JWTs when an issuer is configured."""
    oidc = None
    if settings.oidc_issuer is not None:
        from activitylog.http.oidc import OidcVerifier  # noqa: PLC0415 - only when configured

        oidc = OidcVerifier.from_settings(settings, store)
    return BearerAuthenticator(
        store,
        check_seconds=settings.token_check_seconds,
        use_interval=settings.token_use_interval,
        oidc=oidc,
    )
