"""The job-status GET's fast path: a cached answer sent straight from the ASGI scope.

Clients poll one job over and over. When the credentials are in the Authenticator's cache,
Starlette's routing, request objects and middleware would cost several times a cached answer
(job_answers), and a third of one read from the store. This path sends the same status, body
and headers without them, reading and caching the job when it must; anything else, every error
included (no such job, the store unavailable), is left to the Starlette application, which
answers it the slow way.
"""

from __future__ import annotations

from starlette.types import Scope, Send

from activitylog import errors
from activitylog.domain.search import parse_whole_number
from activitylog.http.auth import Authenticator
from activitylog.http.job_answers import JobAnswerCache
from activitylog.http.middleware import COMMON_HEADERS, ExecutionContextIds
from activitylog.store.base import Store

# activitylog_api's route "/paas/api/v1.1/activitylog/{domain}/job/{job_id}", taken apart.
_PREFIX = "/paas/api/v1.1/activitylog/"
_JOB = "/job/"
# Starlette answers HEAD with the GET's headers and body; the server drops the body.
_METHODS = ("GET", "HEAD")


class JobStatusFastPath:
    def __init__(
        self,
        authenticator: Authenticator,
        answers: JobAnswerCache,
        ecids: ExecutionContextIds,
        store: Store,
    ) -> None:
        self._authenticator = authenticator
        self._answers = answers
        self._ecids = ecids
        self._store = store

    async def answer(self, scope: Scope, send: Send) -> bool:
        """Send the cached answer and return True; or return False, having sent nothing."""
        if (
            scope["type"] != "http"
            or scope["method"] not in _METHODS
            or scope.get("query_string")
            or scope.get("root_path")
        ):
            return False
        target = _job_target(scope["path"])
        if target is None:
            return False
        domain, job_id = target
        authorization, tenant, if_none_match = _request_headers(scope)
        principal = self._authenticator.cached(domain, authorization, tenant)
        if principal is None:
            return False
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
        status, body, headers = answer.select(if_none_match)
        ecid = (b"x-oracle-dms-ecid", self._ecids.next().encode())
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [*headers, *COMMON_HEADERS, ecid],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True


def _job_target(path: str) -> tuple[str, int] | None:
    """(domain, job id) when Starlette would route ``path`` to get_job with a valid job id."""
    if not path.startswith(_PREFIX):
        return None
    domain, separator, job_text = path[len(_PREFIX) :].partition(_JOB)
    if not separator or not domain or "/" in domain:
        return None
    job_id = parse_whole_number(job_text)  # what parse_id accepts; it refuses any "/"
    return None if job_id is None else (domain, job_id)


def _request_headers(scope: Scope) -> tuple[str | None, str | None, str | None]:
    """Authorization, X-ID-TENANT-NAME and If-None-Match, as Starlette's Headers.get reads
    them: the first of each name, decoded as latin-1."""
    authorization = tenant = if_none_match = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"x-id-tenant-name":
            if tenant is None:
                tenant = value.decode("latin-1")
        elif name == b"if-none-match" and if_none_match is None:
            if_none_match = value.decode("latin-1")
    return authorization, tenant, if_none_match
