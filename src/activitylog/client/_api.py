"""The activitylog HTTP API as flows: each method builds requests and decodes the answers."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from collections.abc import Iterable
from typing import Any, TypedDict

from activitylog._version import __version__
from activitylog.client import paths
from activitylog.client._models import ActivityPage, ApiToken, Instance, Job, Submission, User
from activitylog.client._polling import BuildRequest, PollSettings, PollState
from activitylog.client._retry import RetryPolicy
from activitylog.client._steps import Emit, Flow, exchange, raise_for_status
from activitylog.client._wire import (
    decode_instance,
    decode_instance_list,
    decode_job,
    decode_page,
    decode_submission,
    decode_token,
    decode_token_list,
    decode_user,
    decode_user_list,
    format_timestamp,
)

DEFAULT_PAGE_SIZE = 100
USER_AGENT = f"activitylog-client/{__version__}"
DateLike = dt.datetime | dt.date | str
IDEMPOTENCY_KEY = "Idempotency-Key"
IdempotencyKey = str | None  # a caller's own key for a write, or None for a fresh uuid4


class ActivityFilters(TypedDict, total=False):
    """The activity-log search: every key is optional; several statuses or operations are ORed."""

    service_name: str
    service_type: str
    status: str | Iterable[str]
    operation_type: str | Iterable[str]
    from_start_date: DateLike
    to_start_date: DateLike
    order_by: str  # "field:asc" or "field:desc", e.g. "startDate:desc" (the server's default)


# httpx leaves Nagle's algorithm on: a POST's body, written after its headers, then waits for
# the server's delayed ACK, 40 ms a request on Linux loopback. Off, submissions ran 2x faster.
NO_DELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def default_headers(identity_domain: str) -> dict[str, str]:
    return {
        "X-ID-TENANT-NAME": identity_domain,
        "Accept": "application/json",
        "User-Agent": USER_AGENT,
    }


def credentials(
    user: str | None, password: str | None, token: str | None
) -> tuple[tuple[str, str] | None, dict[str, str]]:
    """(Basic auth, extra headers) for a user and password, or for a Bearer token."""
    if token is not None:
        if user is not None or password is not None:
            raise ValueError("give either a token, or a user and a password; not both")
        return None, {"Authorization": f"Bearer {token}"}
    if user is None or password is None:
        raise ValueError("give a user and a password, or a token")
    return (user, password), {}


class ActivityLogApi:
    def __init__(
        self,
        build_request: BuildRequest,
        *,
        base_url: str,
        identity_domain: str,
        retry: RetryPolicy,
        timeout: float,
        poll_interval: float,
        long_poll: float,
    ) -> None:
        self._build_request = build_request
        self.base_url = base_url
        self.identity_domain = identity_domain
        self.retry = retry
        self.poll_settings = PollSettings(build_request, retry, timeout, poll_interval, long_poll)

    def job_url(self, job_id: int) -> str:
        return f"{self.base_url.rstrip('/')}{paths.job_path(self.identity_domain, job_id)}"

    def poll_state(self, job_id: int, url: str | None = None) -> PollState:
        return PollState(url or self.job_url(job_id), job_id)

    def create(
        self, service_type: str, name: str, parameters: dict[str, Any], key: IdempotencyKey
    ) -> Flow[Submission]:
        body = {"serviceParameters": {"serviceName": name, **parameters}}
        path = paths.instances_path(self.identity_domain, service_type)
        return self._submit("POST", path, body, key)

    def delete(self, service_type: str, name: str, key: IdempotencyKey) -> Flow[Submission]:
        # PUT with {} is how Oracle's own cache API deletes; activitylog accepts it and DELETE.
        path = paths.instance_path(self.identity_domain, service_type, name)
        return self._submit("PUT", path, {}, key)

    def host_operation(
        self,
        service_type: str,
        name: str,
        operation: paths.HostOperation,
        key: IdempotencyKey,
    ) -> Flow[Submission]:
        path = paths.host_operation_path(self.identity_domain, service_type, name, operation)
        return self._submit("POST", path, {"allServiceHosts": True}, key)

    def scale(
        self, service_type: str, name: str, parameters: dict[str, Any], key: IdempotencyKey
    ) -> Flow[Submission]:
        body = {"serviceParameters": parameters}
        path = paths.scale_path(self.identity_domain, service_type, name)
        return self._submit("POST", path, body, key)

    def get_job(self, job_id: int, url: str | None = None) -> Flow[Job]:
        request = self._build_request("GET", url or self.job_url(job_id))
        response = yield from exchange(request, self.retry)
        return decode_job(raise_for_status(response).content)

    def activity_page(
        self, filters: ActivityFilters, offset: int, limit: int
    ) -> Flow[ActivityPage]:
        params = [*filter_params(filters), ("offset", str(offset)), ("limit", str(limit))]
        path = paths.filter_path(self.identity_domain)
        request = self._build_request("GET", path, params=params)
        response = yield from exchange(request, self.retry)
        return decode_page(raise_for_status(response).content, offset, limit)

    def activities(
        self, filters: ActivityFilters, offset: int, limit: int | None, page_size: int
    ) -> Flow[None]:
        """Emit every matching job from ``offset`` on (at most ``limit``), a page at a time.

        Offset paging shifts when jobs are added meanwhile; a job seen on an earlier page is
        not emitted twice. ``order_by="jobId:asc"`` gives a walk that new jobs cannot shift.
        """
        seen: set[int] = set()
        while limit is None or len(seen) < limit:
            size = page_size if limit is None else min(page_size, limit - len(seen))
            page = yield from self.activity_page(filters, offset, size)
            for job in page.jobs:
                if job.job_id not in seen and (limit is None or len(seen) < limit):
                    seen.add(job.job_id)
                    yield Emit(job)
            if not page.has_more:
                return
            offset += len(page.jobs)

    def cancel(self, job_id: int, url: str | None = None) -> Flow[Job]:
        """POST to the job's URL + ``/cancel``, as ``paths.JOB_CANCEL`` has it."""
        cancel_url = f"{(url or self.job_url(job_id)).rstrip('/')}/cancel"
        response = yield from exchange(self._build_request("POST", cancel_url), self.retry)
        return decode_job(raise_for_status(response).content)

    def instances(self, service_type: str) -> Flow[list[Instance]]:
        path = paths.instances_path(self.identity_domain, service_type)
        response = yield from exchange(self._build_request("GET", path), self.retry)
        return decode_instance_list(raise_for_status(response).content)

    def instance(self, service_type: str, name: str) -> Flow[Instance]:
        path = paths.instance_path(self.identity_domain, service_type, name)
        response = yield from exchange(self._build_request("GET", path), self.retry)
        return decode_instance(raise_for_status(response).content)

    def users(self) -> Flow[list[User]]:
        path = paths.expand(paths.USERS, domain=self.identity_domain)
        response = yield from exchange(self._build_request("GET", path), self.retry)
        return decode_user_list(raise_for_status(response).content)

    def add_user(self, name: str, password: str, role: str | None) -> Flow[User]:
        body = {"name": name, "password": password, **({"role": role} if role else {})}
        path = paths.expand(paths.USERS, domain=self.identity_domain)
        response = yield from exchange(self._build_request("POST", path, json=body), self.retry)
        return decode_user(raise_for_status(response).content)

    def set_user_role(self, name: str, role: str) -> Flow[User]:
        path = paths.expand(paths.USER, domain=self.identity_domain, name=name)
        request = self._build_request("PUT", path, json={"role": role})
        # A PUT without a password for a user the server does not know is its 404.
        response = yield from exchange(request, self.retry)
        return decode_user(raise_for_status(response).content)

    def remove_user(self, name: str) -> Flow[None]:
        path = paths.expand(paths.USER, domain=self.identity_domain, name=name)
        response = yield from exchange(self._build_request("DELETE", path), self.retry)
        raise_for_status(response)

    def create_token(
        self, name: str, role: str | None, expires_in_days: int | None, user: str | None
    ) -> Flow[ApiToken]:
        optional = {"role": role, "expiresInDays": expires_in_days, "user": user}
        body = {"name": name, **{key: value for key, value in optional.items() if value}}
        path = paths.expand(paths.TOKENS, domain=self.identity_domain)
        response = yield from exchange(self._build_request("POST", path, json=body), self.retry)
        return decode_token(raise_for_status(response).content)

    def tokens(self, user: str | None) -> Flow[list[ApiToken]]:
        path = paths.expand(paths.TOKENS, domain=self.identity_domain)
        params = {"user": user} if user else None
        response = yield from exchange(self._build_request("GET", path, params=params), self.retry)
        return decode_token_list(raise_for_status(response).content)

    def revoke_token(self, token_id: int) -> Flow[None]:
        path = paths.expand(paths.TOKEN, domain=self.identity_domain, tokenId=token_id)
        response = yield from exchange(self._build_request("DELETE", path), self.retry)
        raise_for_status(response)

    def _submit(
        self, method: str, path: str, body: dict[str, Any], key: IdempotencyKey
    ) -> Flow[Submission]:
        # The key is drawn once per call and the retries resend the same request: a retry of
        # a write whose answer was lost (a 503 from a proxy, say) gets that first answer back.
        headers = {IDEMPOTENCY_KEY: key or str(uuid.uuid4())}
        request = self._build_request(method, path, json=body, headers=headers)
        response = raise_for_status((yield from exchange(request, self.retry)))
        location = response.headers.get("Location")
        return decode_submission(response.content, location, self.base_url, self.identity_domain)


def filter_params(filters: ActivityFilters) -> list[tuple[str, str]]:
    """The filter's query parameters, in the server's names; repeatable ones repeated."""
    from_date, to_date = filters.get("from_start_date"), filters.get("to_start_date")
    single = {
        "serviceName": filters.get("service_name"),
        "serviceType": filters.get("service_type"),
        "fromStartDate": None if from_date is None else format_filter_date(from_date),
        "toStartDate": None if to_date is None else format_filter_date(to_date),
        "orderBy": filters.get("order_by"),
    }
    params = [(name, value) for name, value in single.items() if value is not None]
    params += [("status", s) for s in _many(filters.get("status", ()))]
    params += [("operationType", o) for o in _many(filters.get("operation_type", ()))]
    return params


def _many(values: str | Iterable[str]) -> list[str]:
    return [values] if isinstance(values, str) else list(values)


def format_filter_date(value: DateLike) -> str:
    if isinstance(value, dt.datetime):
        return format_timestamp(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
