"""Health for load balancers and orchestrators: /health/live (the process answers) and
/health/ready (the store answers, its migrations are current, the worker runs where it should),
200 or 503 with a JSON body saying what is wrong. /health stays as it was: 200 while the process
answers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitylog import errors
from activitylog.store.base import Store
from activitylog.store.migrate import pending_migrations

STORE_CHECK_SECONDS = 2.0
OK = "ok"


class Readiness:
    """What /health/ready checks. The process that runs a worker says so with ``expect_worker``
    (the worker starts in the lifespan, after the application is built)."""

    def __init__(self, store: Store, dialect: str) -> None:
        self._store = store
        self._dialect = dialect
        self._worker_running: Callable[[], bool] | None = None

    def expect_worker(self, running: Callable[[], bool]) -> None:
        self._worker_running = running

    async def checks(self) -> dict[str, str]:
        """Each check, ``ok`` or what is wrong."""
        checks = {"store": OK, "migrations": OK, "worker": "not run by this process"}
        try:
            applied = await asyncio.wait_for(self._store.applied_migrations(), STORE_CHECK_SECONDS)
        except (errors.ActivityLogError, TimeoutError) as exc:
            checks["store"] = getattr(exc, "message", None) or "the store did not answer in time"
            checks["migrations"] = "unknown: the store does not answer"
        else:
            pending = pending_migrations(self._dialect, applied)
            if pending:
                checks["migrations"] = f"pending: {pending}; run `activitylog migrate`"
        if self._worker_running is not None:
            checks["worker"] = OK if self._worker_running() else "the worker stopped"
        return checks


def health_routes(readiness: Readiness) -> list[Route]:
    async def live(request: Request) -> Response:
        return Response(b'{"status":"ok"}', media_type="application/json")

    async def ready(request: Request) -> Response:
        checks = await readiness.checks()
        healthy = all(value == OK or value.startswith("not run") for value in checks.values())
        body = {"status": "ready" if healthy else "not ready", "checks": checks}
        return Response(
            msgspec.json.encode(body),
            status_code=200 if healthy else 503,
            media_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    return [
        Route("/health/live", live, methods=["GET"]),
        Route("/health/ready", ready, methods=["GET"]),
    ]


HEALTH_PATHS = frozenset({"/health/live", "/health/ready"})
