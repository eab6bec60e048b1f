"""The job-status GET's fast path: a cached answer sent straight from the ASGI scope.

Clients poll one job over and over. When the credentials are in the Authenticator's cache,
Starlette's routing, request objects and middleware would cost several times a cached answer
(job_answers), and a third of one read from the store. This path sends the same status, body
and headers without them, reading and caching the job when it must; anything else, every error
included (no such job, the store unavailable), is left to the Starlette application, which
answers it the slow way.

Skipping Starlette skips its middleware stack too. STANDS_IN_FOR says how this path does each
layer's work; a test fails when the application's stack holds a layer it does not name.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.types import Scope, Send

from activitylog import errors
from activitylog.client import paths
from activitylog.domain.search import parse_whole_number
from activitylog.http.access_log import PRINCIPAL_KEY
from activitylog.http.auth import Authenticator
from activitylog.http.errors import UnexpectedErrorMiddleware
from activitylog.http.job_answers import JobAnswerCache
from activitylog.http.middleware import (
    ExecutionContextIds,
    HeaderPolicy,
    ResponseHeadersMiddleware,
    with_common_headers,
)
from activitylog.http.query_parameters import UnknownQueryParameters
from activitylog.metrics import count_request
from activitylog.store.base import Store

# The job route's template taken apart, for job_target: a template of another shape fails
# here, at import, rather than sending some other route's requests down this path.
_PREFIX, _JOB, _END = paths.literal_parts(paths.JOB)
if _END or paths.parameter_names(paths.JOB) != ["domain", "jobId"]:
    raise ImportError(f"job_target does not know how to match {paths.JOB!r}")
# Starlette answers HEAD with the GET's headers and body; the server drops the body.
_METHODS = ("GET", "HEAD")

STANDS_IN_FOR: Mapping[type, str] = {
    ServerErrorMiddleware: "nothing to catch: every failure leaves the request to Starlette",
    ResponseHeadersMiddleware: "with_common_headers under the same HeaderPolicy (an answer with "
    "credentials: not stored, varies by Authorization), with an ECID from the same generator",
    UnexpectedErrorMiddleware: "nothing to catch, as for ServerErrorMiddleware",
    ExceptionMiddleware: "no exception to handle: the route's errors are answered by Starlette",
    UnknownQueryParameters: "nothing to refuse: a request with a query string, known parameters "
    "or not, is left to Starlette, whose stack checks their names",
}
"""Each layer of the application's middleware stack, and how this path does its work."""


class JobStatusFastPath:
    def __init__(
        self,
        authenticator: Authenticator,
        answers: JobAnswerCache,
        ecids: ExecutionContextIds,
        store: Store,
        headers: HeaderPolicy,
    ) -> None:
        self._authenticator = authenticator
        self._answers = answers
        self._ecids = ecids
        self._store = store
        self._headers = headers

    async def answer(self, scope: Scope, send: Send) -> bool:
        """Send the cached answer and return True; or return False, having sent nothing."""
        if (
            scope["type"] != "http"
            or scope["method"] not in _METHODS
            or scope.get("query_string")
            or scope.get("root_path")
        ):
            return False
        target = job_target(scope["path"])
        if target is None:
            return False
        domain, job_id = target
        authorization, tenant, if_none_match, origin = _request_headers(scope)
        principal = self._authenticator.cached(domain, authorization, tenant)
        if principal is None:
            return False
        scope[PRINCIPAL_KEY] = principal  # for the access log (http/access_log.py)
        answer, token = self._answers.lookup(principal.domain_id, job_id)
        if answer is None:
            try:
                answer = await self._answers.read(
                    self._store.get_job, principal.domain_id, job_id, token
                )
            except errors.ActivityLogError:
                return False  # Starlette's path reads again and says what failed
            if answer is None:
                return False  # and that there is no such job
        status, body, own_headers = answer.select(if_none_match)
        ecid = self._ecids.next().encode()
        headers = with_common_headers(
            own_headers, ecid, self._headers, authenticated=True, origin=origin
        )
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        count_request(paths.JOB, scope["method"], status)
        return True


def job_target(path: str) -> tuple[str, int] | None:
    """(domain, job id) when Starlette would route ``path`` to get_job with a valid job id."""
    if not path.startswith(_PREFIX):
        return None
    domain, separator, job_text = path[len(_PREFIX) :].partition(_JOB)
    if not separator or not domain or "/" in domain:
        return None
    job_id = parse_whole_number(job_text)  # what parse_id accepts; it refuses any "/"
    return None if job_id is None else (domain, job_id)


def _request_headers(
    scope: Scope,
) -> tuple[str | None, str | None, str | None, bytes | None]:
    """Authorization, X-ID-TENANT-NAME and If-None-Match, as Starlette's Headers.get reads
    them: the first of each name, decoded as latin-1; and the first Origin, as sent."""
    authorization = tenant = if_none_match = None
    origin: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"x-id-tenant-name":
            if tenant is None:
                tenant = value.decode("latin-1")
        elif name == b"if-none-match":
            if if_none_match is None:
                if_none_match = value.decode("latin-1")
        elif name == b"origin" and origin is None:
            origin = value
    return authorization, tenant, if_none_match, origin
