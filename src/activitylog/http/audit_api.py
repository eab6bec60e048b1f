"""The domain's audit trail, for its admins (our extension): GET .../activitylog/{domain}/audit,
filtered by ``kind`` and time (``from``, ``to``), newest first, in pages (``limit``, ``offset``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from activitylog.client import paths
from activitylog.domain.audit import parse_audit_query
from activitylog.http.bodies import AuditPage, audit_event_body, encode
from activitylog.http.context import authenticate


async def list_audit_events(request: Request) -> Response:
    context, principal = await authenticate(request, "admin")
    query = parse_audit_query(request.query_params.multi_items())
    events, total = await context.store.search_audit_events(principal.domain_id, query)
    page = AuditPage([audit_event_body(event) for event in events], total)
    return Response(encode(page), media_type="application/json")


routes = [Route(paths.AUDIT, list_audit_events, methods=["GET"])]
