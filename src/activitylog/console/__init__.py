"""The web console at /console/: server-rendered pages over the same store and authenticator
as the API, with htmx (vendored) fetching their live parts when an event stream says so.

``console_routes`` is what activitylog.serving hands to http.app.build_app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from activitylog.console import (
    activity,
    job,
    overview,
    services,
    signing_in,
    static_files,
    streams,
    users,
)
from activitylog.console.rendering import refusal
from activitylog.console.sessions import ConsoleSessions, Session
from activitylog.http.context import AppContext

__all__ = ["console_routes"]

SignedInEndpoint = Callable[[Request, AppContext, Session], Awaitable[Response]]


def console_routes(context: AppContext) -> list[BaseRoute]:
    sessions = ConsoleSessions(context.store)

    def page(endpoint: SignedInEndpoint) -> Callable[[Request], Awaitable[Response]]:
        """Signed-in only: a page sends anyone else to the sign-in form."""

        async def signed_in(request: Request) -> Response:
            session = await signing_in.current_session(request, sessions)
            if session is None:
                return RedirectResponse(signing_in.SIGN_IN, 303)
            return await endpoint(request, context, session)

        return signed_in

    def part(endpoint: SignedInEndpoint) -> Callable[[Request], Awaitable[Response]]:
        """Signed-in only: a fetched part, a stream or a form's action refuses anyone else."""

        async def signed_in(request: Request) -> Response:
            session = await signing_in.current_session(request, sessions)
            if session is None:
                return refusal("You are signed out; sign in again.", 403)
            return await endpoint(request, context, session)

        return signed_in

    async def still_signed_in(request: Request) -> bool:
        return await signing_in.current_session(request, sessions) is not None

    def stream(endpoint: streams.StreamEndpoint) -> SignedInEndpoint:
        async def held(request: Request, context: AppContext, session: Session) -> Response:
            return await endpoint(request, context, session, still_signed_in)

        return held

    async def home(request: Request) -> Response:
        return RedirectResponse(signing_in.HOME, 303)

    async def sign_in_form(request: Request) -> Response:
        return signing_in.sign_in_form(request, context)

    async def sign_in(request: Request) -> Response:
        return await signing_in.sign_in(request, context, sessions)

    async def sign_out(request: Request) -> Response:
        return await signing_in.sign_out(request, sessions)

    return [
        *static_files.routes,
        Route("/console", home, methods=["GET"]),
        Route("/console/", home, methods=["GET"]),
        Route(signing_in.SIGN_IN, sign_in_form, methods=["GET"]),
        Route(signing_in.SIGN_IN, sign_in, methods=["POST"]),
        Route("/console/sign-out", sign_out, methods=["POST"]),
        Route(signing_in.HOME, page(activity.activity_page), methods=["GET"]),
        Route("/console/activity/live", part(activity.activity_live), methods=["GET"]),
        Route("/console/events", part(stream(streams.domain_events)), methods=["GET"]),
        Route("/console/overview", page(overview.overview_page), methods=["GET"]),
        Route("/console/overview/live", part(overview.overview_live), methods=["GET"]),
        Route("/console/jobs/{jobId}", page(job.job_page), methods=["GET"]),
        Route("/console/jobs/{jobId}/live", part(job.job_live), methods=["GET"]),
        Route("/console/jobs/{jobId}/events", part(stream(streams.job_events)), methods=["GET"]),
        Route("/console/jobs/{jobId}/cancel", part(job.cancel_job), methods=["POST"]),
        Route(users.PAGE, page(users.users_page), methods=["GET"]),
        Route(users.PAGE, part(users.add_user), methods=["POST"]),
        Route(f"{users.PAGE}/role", part(users.change_role), methods=["POST"]),
        Route(f"{users.PAGE}/password", part(users.reset_password), methods=["POST"]),
        Route(f"{users.PAGE}/remove", part(users.remove_user), methods=["POST"]),
        Route("/console/services", page(services.services_page), methods=["GET"]),
        Route("/console/services/live", part(services.services_live), methods=["GET"]),
        Route(
            "/console/services/{serviceType}/create",
            part(services.create_instance),
            methods=["POST"],
        ),
        Route(
            "/console/services/{serviceType}/instances/{name}/{action}",
            part(services.act_on_instance),
            methods=["POST"],
        ),
    ]
