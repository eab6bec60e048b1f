"""The asyncio/trio client: ``AsyncClient``, and ``AsyncPoller`` for one job."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Any, Self, TypeVar, Unpack

import anyio
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


class AsyncClient:
    """An async client (asyncio or trio) for an activitylog server, for one identity domain."""

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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        basic, auth_headers = credentials(user, password, token)
        self._http = httpx.AsyncClient(
            base_url=base_url,
            auth=basic,
            headers={**default_headers(identity_domain), **auth_headers},
            timeout=timeout,
            transport=transport or httpx.AsyncHTTPTransport(socket_options=NO_DELAY),
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

    async def create(
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
        return await self._run(flow)

    async def delete(
        self, service_type: str, name: str, *, idempotency_key: str | None = None
    ) -> Submission:
        return await self._run(self._api.delete(service_type, name, idempotency_key))

    async def start(
        self, service_type: str, name: str, *, idempotency_key: str | None = None
    ) -> Submission:
        return await self._run(
            self._api.host_operation(service_type, name, "start", idempotency_key)
        )

    async def stop(
        self, service_type: str, name: str, *, idempotency_key: str | None = None
    ) -> Submission:
        return await self._run(
            self._api.host_operation(service_type, name, "stop", idempotency_key)
        )

    async def restart(
        self, service_type: str, name: str, *, idempotency_key: str | None = None
    ) -> Submission:
        flow = self._api.host_operation(service_type, name, "restart", idempotency_key)
        return await self._run(flow)

    async def scale(
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
        return await self._run(self._api.scale(service_type, name, parameters, idempotency_key))

    # The activity log.

    async def get_job(self, job_id: int) -> Job:
        return await self._run(self._api.get_job(job_id))

    def poller(self, job_id: int) -> AsyncPoller:
        return AsyncPoller(self, self._api.poll_state(job_id))

    def job_from_url(self, job_url: str) -> AsyncPoller:
        """A poller for the job at ``job_url`` (a 202's ``Location``), through this client."""
        _, _, job_id = split_job_url(job_url)
        return AsyncPoller(self, self._api.poll_state(job_id, job_url))

    async def wait(
        self, job_id: int, timeout: float | None = None, *, poll_interval: float | None = None
    ) -> Job:
        """Poll until the job ends (SUCCEED, FAILED or WARN); WaitTimeout after ``timeout`` s."""
        return await self.poller(job_id).wait(timeout, poll_interval=poll_interval)

    def follow(
        self,
        job_id: int,
        *,
        since: int = 0,
        timeout: float | None = None,
        poll_interval: float | None = None,
    ) -> AsyncIterator[ActivityMessage]:
        """Each message of the job after the first ``since``, as it arrives, until the job ends."""
        return self.poller(job_id).follow(since=since, timeout=timeout, poll_interval=poll_interval)

    def watch(
        self, job_id: int, timeout: float | None = None, *, poll_interval: float | None = None
    ) -> AsyncIterator[JobUpdate]:
        return self.poller(job_id).watch(timeout, poll_interval=poll_interval)

    async def activity_page(
        self, *, offset: int = 0, limit: int = DEFAULT_PAGE_SIZE, **filters: Unpack[ActivityFilters]
    ) -> ActivityPage:
        return await self._run(self._api.activity_page(filters, offset, limit))

    def activities(
        self,
        *,
        offset: int = 0,
        limit: int | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        **filters: Unpack[ActivityFilters],
    ) -> AsyncIterator[Job]:
        """Every matching job (at most ``limit``), fetching ``page_size`` at a time."""
        return self._drive(self._api.activities(filters, offset, limit, page_size))

    async def cancel(self, job_id: int) -> Job:
        """Cancel the job (an activitylog extension): a NEW job ends FAILED at once; a RUNNING
        one is asked to stop and ends FAILED soon after (``wait`` for it). The job as it is
        now; Conflict if it had ended already."""
        return await self._run(self._api.cancel(job_id))

    # Service instances.

    async def instances(self, service_type: str) -> list[Instance]:
        """The identity domain's instances of ``service_type``."""
        return await self._run(self._api.instances(service_type))

    async def instance(self, service_type: str, name: str) -> Instance:
        """Instance ``name`` of ``service_type``; NotFound if there is none."""
        return await self._run(self._api.instance(service_type, name))

    # The identity domain's users (admins; an activitylog extension).

    async def users(self) -> list[User]:
        return await self._run(self._api.users())

    async def add_user(self, name: str, password: str, *, role: str | None = None) -> User:
        """Create user ``name`` (``role`` by default ``viewer``); Conflict if it exists."""
        return await self._run(self._api.add_user(name, password, role))

    async def set_user_role(self, name: str, role: str) -> User:
        """Give user ``name`` the role ``viewer``, ``operator`` or ``admin``; NotFound if there
        is no such user, Conflict if it would leave the domain without an admin."""
        return await self._run(self._api.set_user_role(name, role))

    async def remove_user(self, name: str) -> None:
        """Delete user ``name``: its password and API tokens stop working at once."""
        await self._run(self._api.remove_user(name))

    # Personal API tokens (an activitylog extension).

    async def create_token(
        self,
        name: str,
        *,
        role: str | None = None,
        expires_in_days: int | None = None,
        user: str | None = None,
    ) -> ApiToken:
        """A new token (its ``secret`` shown this once): for this client's user, or (admins)
        for ``user``; ``role`` and expiry default to the user's role and the server's days."""
        return await self._run(self._api.create_token(name, role, expires_in_days, user))

    async def tokens(self, *, user: str | None = None) -> list[ApiToken]:
        """Your tokens; admins: the domain's, or ``user``'s."""
        return await self._run(self._api.tokens(user))

    async def revoke_token(self, token_id: int) -> None:
        await self._run(self._api.revoke_token(token_id))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # Carrying flows out.

    async def _run(self, flow: Flow[T]) -> T:
        """Carry ``flow`` out to its result, dropping whatever it emits on the way."""
        stream = _AsyncStream(self._http)
        reply: Reply = None
        error: TransportError | None = None
        try:
            while True:
                try:
                    step = advance(flow, reply, error)
                except StopIteration as stop:
                    return stop.value  # type: ignore[no-any-return]
                reply, error = await self._carry_out(step, stream)
        finally:
            await stream.close()
            flow.close()

    async def _drive(self, flow: Flow[Any]) -> AsyncIterator[Any]:
        stream = _AsyncStream(self._http)
        reply: Reply = None
        error: TransportError | None = None
        try:
            while True:
                try:
                    step = advance(flow, reply, error)
                except StopIteration:
                    return
                if isinstance(step, Emit):
                    reply, error = None, None
                    yield step.value
                else:
                    reply, error = await self._carry_out(step, stream)
        finally:
            await stream.close()
            flow.close()

    async def _carry_out(
        self, step: Step, stream: _AsyncStream
    ) -> tuple[Reply, TransportError | None]:
        """The answer to ``step``, or the failure to get one (for the flow to handle)."""
        try:
            return await self._answer(step, stream), None
        except TransportError as exc:
            return None, exc

    async def _answer(self, step: Step, stream: _AsyncStream) -> Reply:
        if isinstance(step, httpx.Request):
            with _translated(step):
                return await self._http.send(step)
        if isinstance(step, Sleep):
            await anyio.sleep(step.seconds)
        elif isinstance(step, OpenStream):
            return await stream.open(step.request)
        elif isinstance(step, ReadStream):
            return await stream.read()
        elif isinstance(step, CloseStream):
            await stream.close()
        return None


class _AsyncStream:
    """The one response body a flow reads as it arrives, if any."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self._request: httpx.Request | None = None
        self._response: httpx.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None

    async def open(self, request: httpx.Request) -> httpx.Response:
        await self.close()
        with _translated(request):
            response = await self._http.send(request, stream=True)
            if response.status_code != 200:
                await response.aread()
                await response.aclose()
                return response
        self._request, self._response = request, response
        self._chunks = response.aiter_bytes()
        return response

    async def read(self) -> bytes:
        if self._request is None or self._chunks is None:
            return b""
        with _translated(self._request):
            async for chunk in self._chunks:
                if chunk:
                    return chunk
        return b""

    async def close(self) -> None:
        if self._response is not None:
            await self._response.aclose()
        self._request, self._response, self._chunks = None, None, None


@contextlib.contextmanager
def _translated(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except httpx.TransportError as exc:
        raise TransportError(f"{request.method} {request.url}: {exc!r}") from exc


class AsyncPoller:
    """Follows one job; ``AsyncPoller.from_url`` rebuilds one from the job URL alone."""

    def __init__(self, client: AsyncClient, state: PollState, *, owns_client: bool = False) -> None:
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
    ) -> AsyncPoller:
        """A poller with a client of its own, for the server and domain the URL names."""
        base_url, domain, job_id = split_job_url(job_url)
        client = AsyncClient(
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

    async def poll(self) -> Job:
        """Ask the server once; the job as it is now."""
        await self._client._run(poll_once(self._settings(None), self._state))
        return seen_job(self._state)

    async def wait(
        self, timeout: float | None = None, *, poll_interval: float | None = None
    ) -> Job:
        """Poll until the job ends; raise WaitTimeout after ``timeout`` seconds."""
        return await self._client._run(watch(self._settings(poll_interval), self._state, timeout))

    def follow(
        self, *, since: int = 0, timeout: float | None = None, poll_interval: float | None = None
    ) -> AsyncIterator[ActivityMessage]:
        """Each message after the first ``since``, in order and once, until the job ends."""
        settings = self._settings(poll_interval)
        return self._client._drive(follow(settings, self._state, since, timeout))

    def watch(
        self, timeout: float | None = None, *, poll_interval: float | None = None
    ) -> AsyncIterator[JobUpdate]:
        """A JobUpdate for each change seen, until the job ends."""
        return self._client._drive(watch(self._settings(poll_interval), self._state, timeout))

    async def cancel(self) -> Job:
        """Cancel the job (see ``Client.cancel``); the job as it is now."""
        return await self._client._run(self._client._api.cancel(self.job_id, self.url))

    def _settings(self, poll_interval: float | None) -> PollSettings:
        return self._client._api.poll_settings.paced(poll_interval)

    async def aclose(self) -> None:
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
