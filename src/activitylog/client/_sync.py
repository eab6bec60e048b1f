"""The blocking client: ``Client``, and ``Poller`` for one job."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Generator, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack

import httpx

from activitylog.client._api import (
    DEFAULT_PAGE_SIZE,
    NO_DELAY,
    ActivityFilters,
    ActivityLogApi,
    credentials,
    default_headers,
)
from activitylog.client._errors import TransportError
from activitylog.client._following import follow
from activitylog.client._models import (
    ActivityMessage,
    ActivityPage,
    ApiToken,
    Instance,
    Job,
    JobUpdate,
    Submission,
    User,
)
from activitylog.client._polling import (
    PollSettings,
    PollState,
    poll_once,
    seen_job,
    watch,
)
from activitylog.client._retry import RetryPolicy
from activitylog.client._steps import (
    CloseStream,
    Emit,
    Flow,
    OpenStream,
    ReadStream,
    Reply,
    Sleep,
    Step,
    advance,
)
from activitylog.client._wire import split_job_url

T = TypeVar("T")
U = TypeVar("U")


class Client:
    """A blocking client for an activitylog (or Oracle PSM) server, for one identity domain."""

    def __init__(
        self,
        base_url: str,
        *,
        user: str | None = None,
        password: str | None = None,
        identity_domain: str,
        token: str | None = None,
        timeout: float = 30.0,
        poll_interval: float = 1.0,
        long_poll: float = 20.0,
        retry: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        basic, auth_headers = credentials(user, password, token)
        self._http = httpx.Client(
            base_url=base_url,
            auth=basic,
            headers={**default_headers(identity_domain), **auth_headers},
            timeout=timeout,
            transport=transport or httpx.HTTPTransport(socket_options=NO_DELAY),
        )
        self._api = ActivityLogApi(
            self._http.build_request,
            base_url=base_url,
            identity_domain=identity_domain,
            retry=retry or RetryPolicy(),
            timeout=timeout,
            poll_interval=poll_interval,
            long_poll=long_poll,
        )

    # Operations: each answers 202 with the job that carries it out. Each sends an
    # Idempotency-Key, a fresh one per call unless ``idempotency_key`` names the caller's own.

    def create(
        self,
        service_type: str,
        name: str,
        /,
        *,
        idempotency_key: str | None = None,
        **service_parameters: Any,
    ) -> Submission:
        """Create instance ``name``; ``service_parameters`` as its service type takes them."""
        flow = self._api.create(service_type, name, service_parameters, idempotency_key)
        return self._run(flow)

    def delete(
        self, service_type: str, name: str, *, idempotency_key: str | None = None
    ) -> Submission:
        return self._run(self._api.delete(service_type, name, idempotency_key))

    def start(
        self, service_type: str, name: str, *, idempotency_key: str | None = None
    ) -> Submission:
        return self._run(self._api.host_operation(service_type, name, "start", idempotency_key))

    def stop(
        self, service_type: str, name: str, *, idempotency_key: str | None = None
    ) -> Submission:
        return self._run(self._api.host_operation(service_type, name, "stop", idempotency_key))

    def restart(
        self, service_type: str, name: str, *, idempotency_key: str | None = None
    ) -> Submission:
        flow = self._api.host_operation(service_type, name, "restart", idempotency_key)
        return self._run(flow)

    def scale(
        self,
        service_type: str,
        name: str,
        /,
        size: int | str,
        *,
        idempotency_key: str | None = None,
        **more: Any,
    ) -> Submission:
        parameters = {"size": str(size), **more}
        return self._run(self._api.scale(service_type, name, parameters, idempotency_key))

    # The activity log.

    def get_job(self, job_id: int) -> Job:
        return self._run(self._api.get_job(job_id))

    def poller(self, job_id: int) -> Poller:
        return Poller(self, self._api.poll_state(job_id))

    def job_from_url(self, job_url: str) -> Poller:
        """A poller for the job at ``job_url`` (a 202's ``Location``), through this client."""
        _, _, job_id = split_job_url(job_url)
        return Poller(self, self._api.poll_state(job_id, job_url))

    def wait(
        self, job_id: int, timeout: float | None = None, *, poll_interval: float | None = None
    ) -> Job:
        """Poll until the job ends (SUCCEED, FAILED or WARN); WaitTimeout after ``timeout`` s."""
        return self.poller(job_id).wait(timeout, poll_interval=poll_interval)

    def follow(
        self,
        job_id: int,
        *,
        since: int = 0,
        timeout: float | None = None,
        poll_interval: float | None = None,
    ) -> Iterator[ActivityMessage]:
        """Each message of the job after the first ``since``, as it arrives, until the job ends."""
        return self.poller(job_id).follow(since=since, timeout=timeout, poll_interval=poll_interval)

    def watch(
        self, job_id: int, timeout: float | None = None, *, poll_interval: float | None = None
    ) -> Iterator[JobUpdate]:
        return self.poller(job_id).watch(timeout, poll_interval=poll_interval)

    def activity_page(
        self, *, offset: int = 0, limit: int = DEFAULT_PAGE_SIZE, **filters: Unpack[ActivityFilters]
    ) -> ActivityPage:
        return self._run(self._api.activity_page(filters, offset, limit))

    def activities(
        self,
        *,
        offset: int = 0,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        **filters: Unpack[ActivityFilters],
    ) -> Iterator[Job]:
        """Every matching job (at most ``limit``), fetching ``page_size`` at a time."""
        return self._drive(self._api.activities(filters, offset, limit, page_size))

    def cancel(self, job_id: int) -> Job:
        """Cancel the job (an activitylog extension): a NEW job ends FAILED at once; a RUNNING
        one is asked to stop and ends FAILED soon after (``wait`` for it). The job as it is
        now; Conflict if it had ended already."""
        return self._run(self._api.cancel(job_id))

    # Service instances.

    def instances(self, service_type: str) -> list[Instance]:
        """The identity domain's instances of ``service_type``."""
        return self._run(self._api.instances(service_type))

    def instance(self, service_type: str, name: str) -> Instance:
        """Instance ``name`` of ``service_type``; NotFound if there is none."""
        return self._run(self._api.instance(service_type, name))

    # The identity domain's users (admins; an activitylog extension).

    def users(self) -> list[User]:
        return self._run(self._api.users())

    def add_user(self, name: str, password: str, *, role: str | None = None) -> User:
        """Create user ``name`` (``role`` by default ``viewer``); Conflict if it exists."""
        return self._run(self._api.add_user(name, password, role))

    def set_user_role(self, name: str, role: str) -> User:
        """Give user ``name`` the role ``viewer``, ``operator`` or ``admin``; NotFound if there
        is no such user, Conflict if it would leave the domain without an admin."""
        return self._run(self._api.set_user_role(name, role))

    def remove_user(self, name: str) -> None:
        """Delete user ``name``: its password and API tokens stop working at once."""
        self._run(self._api.remove_user(name))

    # Personal API tokens (an activitylog extension).

    def create_token(
        self,
        name: str,
        *,
        role: str | None = None,
        expires_in_days: int | None = None,
        user: str | None = None,
    ) -> ApiToken:
        """A new token (its ``secret`` shown this once): for this client's user, or (admins)
        for ``user``; ``role`` and expiry default to the user's role and the server's days."""
        return self._run(self._api.create_token(name, role, expires_in_days, user))

    def tokens(self, *, user: str | None = None) -> list[ApiToken]:
        """Your tokens; admins: the domain's, or ``user``'s."""
        return self._run(self._api.tokens(user))

    def revoke_token(self, token_id: int) -> None:
        self._run(self._api.revoke_token(token_id))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Carrying flows out.

    def _run(self, flow: Flow[T]) -> T:
        """Carry ``flow`` out to its result, dropping whatever it emits on the way."""
        driver = self._drive(flow)
        while True:
            try:
                next(driver)
            except StopIteration as stop:
                return stop.value  # type: ignore[no-any-return]

    def _drive(self, flow: Flow[T]) -> Generator[Any, None, T]:
        stream = _Stream(self._http)
        reply: Reply = None
        error: TransportError | None = None
        try:
            while True:
                try:
                    step = advance(flow, reply, error)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                reply, error = None, None
                if isinstance(step, Emit):
                    yield step.value
                    continue
                try:
                    reply = self._carry_out(step, stream)
                except TransportError as exc:
                    error = exc
        finally:
            stream.close()
            flow.close()

    def _carry_out(self, step: Step, stream: _Stream) -> Reply:
        if isinstance(step, httpx.Request):
            with _translated(step):
                return self._http.send(step)
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
        elif isinstance(step, OpenStream):
            return stream.open(step.request)
        elif isinstance(step, ReadStream):
            return stream.read()
        elif isinstance(step, CloseStream):
            stream.close()
        return None


class _Stream:
    """The one response body a flow reads as it arrives, if any."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http
        self._request: httpx.Request | None = None
        self._response: httpx.Response | None = None
        self._chunks: Iterator[bytes] = iter(())

    def open(self, request: httpx.Request) -> httpx.Response:
        self.close()
        with _translated(request):
            response = self._http.send(request, stream=True)
            if response.status_code != 200:
                response.read()
                response.close()
                return response
        self._request, self._response = request, response
        self._chunks = response.iter_bytes()
        return response

    def read(self) -> bytes:
        if self._request is None:
            return b""
        with _translated(self._request):
            return next((chunk for chunk in self._chunks if chunk), b"")

    def close(self) -> None:
        if self._response is not None:
            self._response.close()
        self._request, self._response, self._chunks = None, None, iter(())


@contextlib.contextmanager
def _translated(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        raise TransportError(f"{request.method} {request.url}: {exc!r}") from exc


class Poller:
    """Follows one job; ``Poller.from_url`` rebuilds one from the job URL alone."""

    def __init__(self, client: Client, state: PollState, *, owns_client: bool = False) -> None:
        self._client = client
        self._state = state
        self._owns_client = owns_client

    @classmethod
    def from_url(
        cls,
        job_url: str,
        *,
        user: str,
        password: str,
        identity_domain: str | None = None,
        **client_options: Any,
    ) -> Poller:
        """A poller with a client of its own, for the server and domain the URL names."""
        base_url, domain, job_id = split_job_url(job_url)
        client = Client(
            base_url,
            user=user,
            password=password,
            identity_domain=identity_domain or domain,
            **client_options,
        )
        return cls(client, client._api.poll_state(job_id, job_url), owns_client=True)

    @property
    def url(self) -> str:
        return self._state.url

    @property
    def job_id(self) -> int:
        return self._state.job_id

    @property
    def job(self) -> Job | None:
        """The job as last seen, or None before the first poll."""
        return self._state.job

    def poll(self) -> Job:
        """Ask the server once; the job as it is now."""
        self._client._run(poll_once(self._settings(None), self._state))
        return seen_job(self._state)

    def wait(self, timeout: float | None = None, *, poll_interval: float | None = None) -> Job:
        """Poll until the job ends; raise WaitTimeout after ``timeout`` seconds."""
        return self._client._run(watch(self._settings(poll_interval), self._state, timeout))

    def follow(
        self, *, since: int = 0, timeout: float | None = None, poll_interval: float | None = None
    ) -> Iterator[ActivityMessage]:
        """Each message after the first ``since``, in order and once, until the job ends."""
        settings = self._settings(poll_interval)
        return self._client._drive(follow(settings, self._state, since, timeout))

    def watch(
        self, timeout: float | None = None, *, poll_interval: float | None = None
    ) -> Iterator[JobUpdate]:
        """A JobUpdate for each change seen, until the job ends."""
        return self._client._drive(watch(self._settings(poll_interval), self._state, timeout))

    def cancel(self) -> Job:
        """Cancel the job (see ``Client.cancel``); the job as it is now."""
        return self._client._run(self._client._api.cancel(self.job_id, self.url))

    def _settings(self, poll_interval: float | None) -> PollSettings:
        return self._client._api.poll_settings.paced(poll_interval)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
