"""Unknown query parameters are refused (400, naming them), on every route.

A misspelt parameter would otherwise be ignored: ``filter?startDate=...`` (for
``fromStartDate``) would quietly answer every job, unfiltered. No PSM client we know of sends a
parameter PSM does not document (docs/compatibility.md, "Query parameters"), so there is no
leniency to keep.

What a route takes is read from the OpenAPI document the app serves, so a route and its
document cannot disagree: a route the document does not describe takes no query parameters.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from activitylog import errors
from activitylog.http.errors import error_response

# A preflight carries the query string of the request it asks about: CORS answers it.
_UNCHECKED_METHODS = frozenset({"OPTIONS"})


@dataclasses.dataclass(frozen=True, slots=True)
class _RouteQuery:
    path: re.Pattern[str]
    by_method: Mapping[str, frozenset[str]]
    """The query parameters each method takes (HEAD: as GET)."""


def query_parameters_by_route(document: Mapping[str, Any]) -> list[_RouteQuery]:
    """For each path of an OpenAPI document, the query parameters each method takes."""
    routes = []
    for template, operations in document["paths"].items():
        by_method = {
            method.upper(): frozenset(
                parameter["name"]
                for parameter in operation.get("parameters", [])
                if parameter["in"] == "query"
            )
            for method, operation in operations.items()
        }
        if "GET" in by_method:
            by_method["HEAD"] = by_method["GET"]
        routes.append(_RouteQuery(compile_path(template)[0], by_method))
    return routes


class UnknownQueryParameters:
    """Pure ASGI middleware: a request to a served route with a query parameter the route does
    not take gets 400; anything else (a path no route serves included) passes on."""

    def __init__(
        self, app: ASGIApp, documented: list[_RouteQuery], served: Iterable[re.Pattern[str]]
    ) -> None:
        self.app = app
        self._documented = documented
        self._served = tuple(served)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("query_string"):
            unknown = self._unknown(scope)
            if unknown:
                response = error_response(
                    errors.InvalidRequest("Unknown query parameters.", unknown)
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _unknown(self, scope: Scope) -> list[str]:
        method = scope["method"]
        if method in _UNCHECKED_METHODS:
            return []
        allowed = self._allowed(scope["path"], method)
        if allowed is None:
            return []
        names = dict.fromkeys(
            name for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), True)
        )
        return [_issue(name, allowed) for name in names if name not in allowed]

    def _allowed(self, path: str, method: str) -> frozenset[str] | None:
        """What the route serving ``path`` takes; None when no route serves it (a 404)."""
        for route in self._documented:
            if route.path.match(path):
                # A method the route does not serve is the router's 405, whatever the query.
                return route.by_method.get(method)
        if any(served.match(path) for served in self._served):
            return frozenset()
        return None


def _issue(name: str, allowed: frozenset[str]) -> str:
    shown = repr(name) if name else "'' (a parameter with no name)"
    takes = ", ".join(sorted(allowed)) if allowed else "none"
    return f"{shown}: unknown query parameter; this route takes: {takes}"
