"""The job-status fast path: the same answers as the Starlette route, byte for byte.

Each request goes three ways: to the whole app; to Starlette alone (the route the fast path
stands in front of); and to the fast path alone, which answers DECLINED when it leaves a
request to Starlette. The path skips Starlette's routing and middleware, so it must match
what the router matches and stand in for every middleware layer.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from activitylog.domain.dates import now_ms
from activitylog.domain.search import parse_whole_number
from activitylog.http.app import ActivityLogApp
from activitylog.http.job_status import get_job
from activitylog.http.job_status_fast_path import STANDS_IN_FOR, job_target
from tests.api.conftest import ClientFor, StartApp, create_cache, running_cache
from tests.conftest import DOMAIN, JOB_PREFIX, PASSWORD, USER, basic_auth

pytestmark = pytest.mark.anyio

DECLINED = 599
CREDENTIALS = {"Authorization": basic_auth(USER, PASSWORD), "X-ID-TENANT-NAME": DOMAIN}
Wire = tuple[int, bytes, list[tuple[bytes, bytes]]]


class ThreeWays:
    """Clients that send one request to the whole app, to Starlette alone, or to the fast
    path alone; none sends a header of its own."""

    def __init__(self, app: ActivityLogApp, stack: contextlib.AsyncExitStack) -> None:
        self.app = app
        self.whole = self._client(app, stack)
        self.starlette = self._client(self._starlette_only, stack)
        self.fast_path = self._client(self._fast_path_only, stack)

    @staticmethod
    def _client(asgi: ASGIApp, stack: contextlib.AsyncExitStack) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=asgi, raise_app_exceptions=False)
        client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        stack.push_async_callback(client.aclose)
        return client

    async def _starlette_only(self, scope: Scope, receive: Receive, send: Send) -> None:
        await Starlette.__call__(self.app, scope, receive, send)

    async def _fast_path_only(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self.app.fast_path.answer(scope, send):
            await send({"type": "http.response.start", "status": DECLINED, "headers": []})
            await send({"type": "http.response.body", "body": b""})

    async def fast_path_answers(
        self, url: str, headers: dict[str, str], method: str = "GET"
    ) -> Wire:
        """Assert that the fast path answers, exactly as Starlette does, and so does the whole
        app; return that answer."""
        slow = wire(await self.starlette.request(method, url, headers=headers))
        fast = wire(await self.fast_path.request(method, url, headers=headers))
        whole = wire(await self.whole.request(method, url, headers=headers))
        assert fast == slow
        assert whole == slow
        return slow

    async def left_to_starlette(
        self, url: str, headers: dict[str, str], method: str = "GET"
    ) -> Wire:
        """Assert that the fast path declines and the whole app answers exactly as Starlette
        does; return that answer."""
        declined = await self.fast_path.request(method, url, headers=headers)
        assert declined.status_code == DECLINED
        slow = wire(await self.starlette.request(method, url, headers=headers))
        whole = wire(await self.whole.request(method, url, headers=headers))
        assert whole == slow
        return slow


def wire(response: httpx.Response) -> Wire:
    """Status, body and every header but the ECID (a counter), in order."""
    headers = [(k, v) for k, v in response.headers.raw if k.lower() != b"x-oracle-dms-ecid"]
    return response.status_code, response.content, headers


def header(answer: Wire, name: bytes) -> bytes | None:
    return next((value for key, value in answer[2] if key == name), None)


@pytest.fixture
async def ended_job(
    start_app: StartApp, client_for: ClientFor
) -> AsyncIterator[tuple[ThreeWays, str]]:
    """An app with a worker, and the URL of a SUCCEED job."""
    app = await start_app()
    assert isinstance(app, ActivityLogApp)
    job_id = await running_cache(client_for(app))
    async with contextlib.AsyncExitStack() as stack:
        yield ThreeWays(app, stack), f"{JOB_PREFIX}/job/{job_id}"


@pytest.fixture
async def idle_job(
    start_app: StartApp, client_for: ClientFor, tmp_path: Path
) -> AsyncIterator[tuple[ThreeWays, str, str, int]]:
    """An app without a worker on a file of its own; the URL of a NEW job, the file, the id."""
    database = str(tmp_path / "idle.db")
    app = await start_app(run_worker=False, db=database)
    assert isinstance(app, ActivityLogApp)
    job_id = await create_cache(client_for(app))
    async with contextlib.AsyncExitStack() as stack:
        yield ThreeWays(app, stack), f"{JOB_PREFIX}/job/{job_id}", database, job_id


def claim_elsewhere(database: str, job_id: int) -> None:
    """What a worker in another process does on claiming the job, on a connection of its own."""
    now = now_ms()
    with contextlib.closing(sqlite3.connect(database, timeout=10)) as connection, connection:
        connection.execute(
            "UPDATE jobs SET status = 'RUNNING', attempt = attempt + 1, lease_token = 'elsewhere',"
            " lease_owner = 'another process', lease_expires_at = ?,"
            " message_count = message_count + 1, version = version + 1 WHERE job_id = ?",
            (now + 3_600_000, job_id),
        )
        connection.execute(
            "INSERT INTO job_messages (job_id, position, activity_date, message) SELECT ?,"
            " max(position) + 1, ?, 'Activity Started' FROM job_messages WHERE job_id = ?",
            (job_id, now, job_id),
        )


async def test_an_ended_job_is_answered_as_the_route_answers(
    ended_job: tuple[ThreeWays, str],
) -> None:
    ways, url = ended_job

    answer = await ways.fast_path_answers(url, CREDENTIALS)

    assert answer[0] == 200
    assert b'"status":"SUCCEED"' in answer[1]
    assert header(answer, b"retry-after") is None


async def test_a_job_not_ended_is_answered_as_the_route_answers(
    idle_job: tuple[ThreeWays, str, str, int],
) -> None:
    ways, url, database, job_id = idle_job
    new = await ways.fast_path_answers(url, CREDENTIALS)
    claim_elsewhere(database, job_id)

    running = await ways.fast_path_answers(url, CREDENTIALS)  # read afresh, and cached
    assert await ways.fast_path_answers(url, CREDENTIALS) == running

    assert b'"status":"NEW"' in new[1]
    assert b'"status":"RUNNING"' in running[1]
    assert header(running, b"retry-after") == b"3"
    assert header(running, b"etag") != header(new, b"etag")


async def test_a_commit_by_another_connection_invalidates_the_cached_answer(
    idle_job: tuple[ThreeWays, str, str, int],
) -> None:
    ways, url, database, job_id = idle_job
    before = await ways.fast_path_answers(url, CREDENTIALS)

    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute(
            "UPDATE jobs SET percent_complete = 40, version = version + 1 WHERE job_id = ?",
            (job_id,),
        )
    after = await ways.fast_path_answers(url, CREDENTIALS)

    assert b'"percentComplete":40' in after[1]
    assert b"percentComplete" not in before[1]


async def test_a_job_not_cached_is_read_by_the_fast_path_itself(
    ended_job: tuple[ThreeWays, str],
) -> None:
    ways, url = ended_job
    answers = ways.app.state.context.job_answers
    answers.ended.clear()

    fast = wire(await ways.fast_path.get(url, headers=CREDENTIALS))
    cached = len(answers.ended)
    answers.ended.clear()
    slow = wire(await ways.starlette.get(url, headers=CREDENTIALS))

    assert fast[0] == 200
    assert fast == slow
    assert cached == 1


async def test_a_304_and_an_etag_mismatch_are_answered_as_the_route_answers(
    ended_job: tuple[ThreeWays, str],
) -> None:
    ways, url = ended_job
    etag = header(await ways.fast_path_answers(url, CREDENTIALS), b"etag")
    assert etag is not None

    held = await ways.fast_path_answers(url, {**CREDENTIALS, "If-None-Match": etag.decode()})
    weak = await ways.fast_path_answers(url, {**CREDENTIALS, "If-None-Match": f"W/{etag.decode()}"})
    other = await ways.fast_path_answers(url, {**CREDENTIALS, "If-None-Match": '"1.0"'})

    assert held[0] == weak[0] == 304
    assert held[1] == b""
    assert other[0] == 200


async def test_a_304_for_a_job_not_ended_keeps_retry_after(
    idle_job: tuple[ThreeWays, str, str, int],
) -> None:
    ways, url, _, _ = idle_job
    etag = header(await ways.fast_path_answers(url, CREDENTIALS), b"etag")
    assert etag is not None

    held = await ways.fast_path_answers(url, {**CREDENTIALS, "If-None-Match": etag.decode()})

    assert held[0] == 304
    assert header(held, b"retry-after") == b"3"


async def test_head_is_answered_as_the_route_answers(ended_job: tuple[ThreeWays, str]) -> None:
    ways, url = ended_job
    await ways.fast_path_answers(url, CREDENTIALS)

    answer = await ways.fast_path_answers(url, CREDENTIALS, method="HEAD")

    assert answer[0] == 200


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"Authorization": basic_auth(USER, "wrongPassword"), "X-ID-TENANT-NAME": DOMAIN}, 401),
        ({}, 401),
        ({"X-ID-TENANT-NAME": DOMAIN}, 401),
        ({**CREDENTIALS, "X-ID-TENANT-NAME": "OtherIdentityDomain"}, 401),
    ],
    ids=["wrong password", "no credentials", "no authorization", "tenant mismatch"],
)
async def test_authentication_failures_are_left_to_the_route(
    ended_job: tuple[ThreeWays, str], headers: dict[str, str], status: int
) -> None:
    ways, url = ended_job
    await ways.fast_path_answers(url, CREDENTIALS)  # the answer and the good password cached

    answer = await ways.left_to_starlette(url, headers)

    assert answer[0] == status
    assert header(answer, b"www-authenticate") == b'Basic realm="activitylog"'


@pytest.mark.parametrize(
    ("suffix", "status"),
    [
        ("/", 307),
        ("?sinceMessage=1", 200),
        ("?", 200),
        ("?wait=", 200),
        ("/events", 200),
    ],
    ids=["trailing slash", "query", "empty query", "empty wait", "other route"],
)
async def test_other_urls_of_the_job_are_left_to_the_route(
    ended_job: tuple[ThreeWays, str], suffix: str, status: int
) -> None:
    ways, url = ended_job
    await ways.fast_path_answers(url, CREDENTIALS)

    if suffix == "?":  # httpx drops a bare "?"; the route and the fast path see no query
        await ways.fast_path_answers(url + suffix, CREDENTIALS)
        return
    if suffix == "/events":  # an event stream never ends; its routing is all that matters
        declined = await ways.fast_path.get(url + suffix, headers=CREDENTIALS)
        assert declined.status_code == DECLINED
        return
    answer = await ways.left_to_starlette(url + suffix, CREDENTIALS)
    assert answer[0] == status


@pytest.mark.parametrize(
    "job", ["999999", "0", "abc", "007x", "9223372036854775808", "\uff11"], ids=repr
)
async def test_unknown_and_invalid_jobs_are_left_to_the_route(
    ended_job: tuple[ThreeWays, str], job: str
) -> None:
    ways, _ = ended_job
    url = f"{JOB_PREFIX}/job/{job}"

    answer = await ways.left_to_starlette(url, CREDENTIALS)

    assert answer[0] in (400, 404)
    assert answer[1].startswith(b'{"status":"4')


async def test_a_job_id_with_leading_zeros_is_the_same_job(
    ended_job: tuple[ThreeWays, str],
) -> None:
    ways, url = ended_job
    prefix, _, job_id = url.rpartition("/")
    await ways.fast_path_answers(url, CREDENTIALS)

    assert await ways.fast_path_answers(f"{prefix}/00{job_id}", CREDENTIALS) == (
        await ways.fast_path_answers(url, CREDENTIALS)
    )


async def test_other_methods_are_left_to_the_route(ended_job: tuple[ThreeWays, str]) -> None:
    ways, url = ended_job
    await ways.fast_path_answers(url, CREDENTIALS)

    answer = await ways.left_to_starlette(url, CREDENTIALS, method="POST")

    assert answer[0] == 405


async def test_ecids_stay_unique_across_both_paths(ended_job: tuple[ThreeWays, str]) -> None:
    ways, url = ended_job
    await ways.fast_path_answers(url, CREDENTIALS)
    ecids = []
    for _ in range(20):
        for target in (url, f"{url}?sinceMessage=0", f"{JOB_PREFIX}/job/999999"):
            response = await ways.whole.get(target, headers=CREDENTIALS)
            ecids.append(response.headers["x-oracle-dms-ecid"])
        hit = await ways.fast_path.get(url, headers=CREDENTIALS)
        ecids.append(hit.headers["x-oracle-dms-ecid"])

    assert len(set(ecids)) == len(ecids)
    # One generator for the process: one prefix, a counter after it.
    assert len({ecid[:12] for ecid in ecids}) == 1


def middleware_layers(app: Starlette) -> list[type]:
    """The classes of the app's middleware stack, outermost first: Starlette's own layers
    and the user middleware between them."""
    layers = []
    layer: Any = app.build_middleware_stack()
    while layer is not app.router:
        layers.append(type(layer))
        layer = layer.app
    return layers


def unaccounted_layers(app: Starlette) -> list[type]:
    return [layer for layer in middleware_layers(app) if layer not in STANDS_IN_FOR]


def test_the_fast_path_stands_in_for_every_middleware_layer(
    make_app: Callable[..., Starlette],
) -> None:
    app = make_app()

    assert unaccounted_layers(app) == [], "teach job_status_fast_path what these layers do"
    assert set(middleware_layers(app)) == set(STANDS_IN_FOR), "STANDS_IN_FOR names a layer gone"


def test_a_middleware_added_to_the_app_is_not_accounted_for(
    make_app: Callable[..., Starlette],
) -> None:
    app = make_app()
    assert isinstance(app, ActivityLogApp)
    extended = ActivityLogApp(
        app.fast_path,
        routes=app.routes,
        middleware=[*app.user_middleware, Middleware(GZipMiddleware)],
    )

    assert unaccounted_layers(extended) == [GZipMiddleware]


def per_answer_headers(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    """Every header in order; the ECID's value (a counter) and Date blanked."""
    return [
        (name, b"" if name in {b"x-oracle-dms-ecid", b"date"} else value)
        for name, value in response.headers.raw
    ]


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_fast_answer_carries_the_routes_headers(
    idle_job: tuple[ThreeWays, str, str, int], method: str
) -> None:
    ways, url, _, _ = idle_job
    etag = header(await ways.fast_path_answers(url, CREDENTIALS), b"etag")
    assert etag is not None

    for headers in (CREDENTIALS, {**CREDENTIALS, "If-None-Match": etag.decode()}):
        slow = await ways.starlette.request(method, url, headers=headers)
        fast = await ways.fast_path.request(method, url, headers=headers)

        assert fast.status_code == slow.status_code
        assert per_answer_headers(fast) == per_answer_headers(slow)
        assert len(fast.headers.get_list("x-oracle-dms-ecid")) == 1
        assert fast.headers["x-oracle-dms-ecid"] != slow.headers["x-oracle-dms-ecid"]


def routed_job(app: Starlette, path: str) -> tuple[str, int] | None:
    """(domain, job id) when the app's router sends a GET of ``path`` to get_job with a job
    id that parse_id accepts."""
    scope = {"type": "http", "method": "GET", "path": path, "root_path": "", "headers": []}
    for route in app.routes:
        match, child_scope = route.matches(scope)
        if match is Match.FULL:
            assert isinstance(route, Route)
            if route.endpoint is not get_job:
                return None
            parameters = child_scope["path_params"]
            job_id = parse_whole_number(parameters["jobId"])
            return None if job_id is None else (parameters["domain"], job_id)
    return None


@pytest.mark.parametrize(
    "suffix",
    [
        "/job/7",
        "/job/007",
        "/job/",
        "/job/7/",
        "/job/7/events",
        "/job/7/cancel",
        "/job/abc",
        "/job/-7",
        "/job/\uff17",
        "/job/99999999999999999999",
        "/jobs/7",
        "/filter",
        "/message/7",
        "/events",
        "/users/job",
    ],
)
@pytest.mark.parametrize(
    "prefix",
    [
        "/paas/api/v1.1/activitylog/D",
        "/paas/api/v1.1/activitylog/",
        "/paas/api/v1.1/activitylog/D/E",
        "/paas/api/v1.1/activitylog/job",
        "/paas/api/v1.1/instancemgmt/D",
        "/paas/api/v1.2/activitylog/D",
        "/proxy/paas/api/v1.1/activitylog/D",
    ],
)
def test_the_fast_path_matches_what_the_router_sends_to_get_job(
    make_app: Callable[..., Starlette], prefix: str, suffix: str
) -> None:
    path = prefix + suffix

    assert job_target(path) == routed_job(make_app(), path)


async def test_a_cors_allow_list_is_answered_as_the_route_answers(
    start_app: StartApp, client_for: ClientFor
) -> None:
    console = "https://console.example.com"
    app = await start_app(cors_origins=(console,))
    assert isinstance(app, ActivityLogApp)
    url = f"{JOB_PREFIX}/job/{await running_cache(client_for(app))}"
    async with contextlib.AsyncExitStack() as stack:
        ways = ThreeWays(app, stack)
        await ways.fast_path_answers(url, CREDENTIALS)

        allowed = await ways.fast_path_answers(url, {**CREDENTIALS, "Origin": console})
        foreign = await ways.fast_path_answers(url, {**CREDENTIALS, "Origin": "https://x.example"})

    assert header(allowed, b"access-control-allow-origin") == console.encode()
    assert header(foreign, b"access-control-allow-origin") is None
    assert header(allowed, b"cache-control") == b"no-store"
    assert header(allowed, b"vary") == b"Authorization, Origin"
